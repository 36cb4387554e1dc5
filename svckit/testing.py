"""Test support: serve a `ServiceApp` on 127.0.0.1 port 0 and hand back a channel to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc

from svckit.server import GrpcServer, ServiceApp, create_server


@asynccontextmanager
async def serving(app: ServiceApp) -> AsyncIterator[tuple[GrpcServer, grpc.aio.Channel]]:
    """A started server for `app` and an open channel to it; both closed on exit."""
    server = create_server(app)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield server, channel
    finally:
        await channel.close()
        await server.stop(grace=1.0)


__all__ = ["serving"]
