"""`python -m gateway`: the gateway, configured by `GATEWAY_*` variables, served by uvicorn.

uvicorn handles SIGTERM: it stops accepting connections, lets requests in flight finish for
`GATEWAY_SHUTDOWN_GRACE_SECONDS`, then runs the app's shutdown (pending reconciliations, the
gRPC channels, the keys' database). The app's start-up migrates the keys' database first.

A shutdown on SIGTERM or SIGINT exits 0, as every service's does: uvicorn itself re-raises the
signal once it has shut down, so the process would die "killed by SIGTERM" (-15, 143 in a shell),
which Kubernetes and our process tests read as a crash. `_Server` keeps uvicorn's handlers (a
second Ctrl-C still forces the exit) and only drops that re-raise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Generator

import uvicorn

from gateway.app import build
from gateway.keys.hashing import PepperMissing
from gateway.settings import load
from svckit.logs import configure_logging
from svckit.settings import SettingsError


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():  # signals need it
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


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
    server = _Server(config)
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
