"""`python -m services.flags`: the flags service, configured by `FLAGS_*` variables."""

from __future__ import annotations

import asyncio
import os
import sys

from services.flags.app import build
from services.flags.settings import load
from services.flags.sources import SourceError
from svckit.server import run
from svckit.settings import SettingsError


def main() -> int:
    try:
        settings = load(os.environ)
        service = build(settings)
    except SettingsError as exc:
        print(f"flags: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(service.app, settings))
    except SourceError as exc:  # a flag file named in FLAGS_SOURCE_FILES is bad
        print(f"flags: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a port is taken: say so in one line, not a traceback
        print(f"flags: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
