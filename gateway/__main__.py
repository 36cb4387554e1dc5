"""`python -m gateway`: the gateway, configured by `GATEWAY_*` variables, served by uvicorn.

uvicorn handles SIGTERM: it stops accepting connections, lets requests in flight finish for
`GATEWAY_SHUTDOWN_GRACE_SECONDS`, then runs the app's shutdown (pending reconciliations, the
gRPC channels, the keys' database). The app's start-up migrates the keys' database first.
"""

from __future__ import annotations

import os
import sys

import uvicorn

from gateway.app import build
from gateway.keys.hashing import PepperMissing
from gateway.settings import load
from svckit.logs import configure_logging
from svckit.settings import SettingsError


def main() -> int:
    try:
        settings = load(os.environ)
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    configure_logging("gateway", settings.log_level)
    try:
        gateway = build(settings)
    except PepperMissing as exc:  # names the secret, never a value
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        gateway.app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our JSON logging, already configured
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
