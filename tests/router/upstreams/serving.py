"""Serving a fake upstream over real HTTP on a loopback port, inside the test's event loop.

The socket is bound before uvicorn starts (port 0: the kernel picks a free port), so there is no
race between choosing a port and listening on it. Shutdown is graceful but bounded: a request
still hanging when the test ends is cancelled after `SHUTDOWN_GRACE_SECONDS`. `start_server`
runs the whole `serve()` for the standalone process.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

SHUTDOWN_GRACE_SECONDS = 2


def bound_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it every answer waits for a delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def make_server(app: ASGIApp) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    return uvicorn.Server(config)


async def start_server(server: uvicorn.Server, sock: socket.socket) -> asyncio.Task[None]:
    """Start serving on `sock`; returns once connections are accepted."""
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises the reason it could not start
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.001)
    return task


@asynccontextmanager
async def serve_upstream(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` while the block runs; yields its base URL, e.g. http://127.0.0.1:PORT/v1.

    It drives uvicorn's startup and shutdown itself instead of `serve()`: that skips the main
    loop's 0.1 s polling of `should_exit` and leaves the test process's signal handlers alone.
    """
    sock = bound_socket()
    server = make_server(app)
    server.config.load()
    server.lifespan = server.config.lifespan_class(server.config)
    await server.startup(sockets=[sock])
    try:
        port = sock.getsockname()[1]
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await server.shutdown(sockets=[sock])
