"""A service whose shutdown misbehaves on request, served by the kit's real `run()`.

    python -m tests.svckit.shutdown_app MODE GRACE_SECONDS MARGIN_SECONDS

MODE:
- `clean`: nothing in the way, the shutdown finishes at once;
- `swallowing-probe`: a dependency probe that is always in flight and, when cancelled, returns
  instead of raising (as `asyncio.wait_for` inside redis-py can on Python 3.11);
- `hung-hook`: an `on_stop` hook that never returns, not even when cancelled;
- `blocked-loop`: an `on_stop` hook that blocks the event loop itself, for ever;
- `blocked-serving`: soon after start-up the event loop blocks for ever (logging
  `blocking the event loop` first), so even the first signal finds it stuck.

The process logs JSON lines on stderr; the test waits for `serving` before it signals.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Awaitable, Callable

from svckit.server import run
from svckit.settings import ServiceSettings
from tests.svckit.echo import echo_app


async def swallows_cancellation() -> bool:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        return True
    return True


async def never_returns() -> None:
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            continue


async def blocks_the_loop() -> None:
    threading.Event().wait()


def block_while_serving() -> None:
    logging.getLogger("shutdown_app").info("blocking the event loop")
    threading.Event().wait()


async def schedule_block() -> None:
    asyncio.get_running_loop().call_later(0.2, block_while_serving)


def main() -> None:
    mode, grace, margin = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    hooks: dict[str, list[Callable[[], Awaitable[None]]]] = {
        "hung-hook": [never_returns],
        "blocked-loop": [blocks_the_loop],
    }
    app = echo_app(
        on_start=[schedule_block] if mode == "blocked-serving" else [],
        on_stop=hooks.get(mode, []),
        dependencies={"db": swallows_cancellation} if mode == "swallowing-probe" else {},
        probe_interval=0.01,
    )
    settings = ServiceSettings(
        grpc_host="127.0.0.1", grpc_port=0, metrics_port=0, shutdown_grace_seconds=grace
    )
    asyncio.run(run(app, settings, environ={"OTEL_SDK_DISABLED": "true"}, stop_margin=margin))


if __name__ == "__main__":
    main()
