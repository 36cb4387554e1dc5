"""`python -m services.prompts`: the prompt registry, configured by `PROMPTS_*` variables."""

from __future__ import annotations

import asyncio
import os
import sys

from services.prompts.app import build
from services.prompts.settings import load
from svckit.server import run
from svckit.settings import SettingsError


def main() -> int:
    try:
        settings = load(os.environ)
        service = build(settings)
    except SettingsError as exc:
        print(f"prompts: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(service.app, settings))
    except OSError as exc:  # a port is taken: say so in one line, not a traceback
        print(f"prompts: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
