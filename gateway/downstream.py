"""The gRPC services behind the gateway: one channel each, and their readiness.

A channel is opened lazily in the serving event loop (a grpc.aio channel belongs to one loop).
Readiness asks each service's `grpc.health.v1` (the overall status, service "") with a short
deadline; the gateway is ready only while all answer SERVING.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from svckit.channels import service_channel

SERVING = health_pb2.HealthCheckResponse.SERVING


class Downstreams:
    def __init__(self, addresses: Mapping[str, str], timeout_seconds: float = 1.0) -> None:
        self._addresses = dict(addresses)
        self._timeout = timeout_seconds
        self._channels: dict[str, grpc.aio.Channel] = {}

    @property
    def names(self) -> list[str]:
        return sorted(self._addresses)

    def channel(self, name: str) -> grpc.aio.Channel:
        found = self._channels.get(name)
        if found is None:
            found = self._channels[name] = service_channel(self._addresses[name])
        return found

    async def readiness(self) -> dict[str, bool]:
        """Each service's readiness, asked at once."""
        names = self.names
        answers = await asyncio.gather(*(self._ready(name) for name in names))
        return dict(zip(names, answers, strict=True))

    async def _ready(self, name: str) -> bool:
        stub = health_pb2_grpc.HealthStub(self.channel(name))
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=self._timeout)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == SERVING)

    async def aclose(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()
