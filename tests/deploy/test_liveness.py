"""The health name the liveness probes ask (svckit.health.LIVENESS_SERVICE) stays SERVING while
a dependency is down, so an outage makes replicas unready without restarting them, and turns
NOT_SERVING once the server shuts down."""

from __future__ import annotations

import asyncio

from grpc_health.v1 import health_pb2, health_pb2_grpc

from svckit.health import LIVENESS_SERVICE
from svckit.testing import serving
from tests.svckit.echo import echo_app

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def test_liveness_ignores_dependencies_that_readiness_reports() -> None:
    up = asyncio.Event()
    up.set()
    probed = asyncio.Queue[bool]()

    async def probe() -> bool:
        probed.put_nowait(up.is_set())
        return up.is_set()

    async with serving(echo_app(dependencies={"store": probe}, probe_interval=0.01)) as (
        server,
        channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        overall = health_pb2.HealthCheckRequest(service="")
        liveness = health_pb2.HealthCheckRequest(service=LIVENESS_SERVICE)
        assert (await health.Check(liveness)).status == SERVING
        up.clear()
        while await asyncio.wait_for(probed.get(), 5):
            pass  # until a probe saw the dependency down
        await _until(health, overall, NOT_SERVING)
        assert server.readiness.down() == {"store"}
        assert (await health.Check(liveness)).status == SERVING
        await server.readiness.shutdown()
        assert (await health.Check(liveness)).status == NOT_SERVING


async def _until(
    health: health_pb2_grpc.HealthStub, request: health_pb2.HealthCheckRequest, want: int
) -> None:
    async def poll() -> None:
        # The state lives in the server: polling it is the only way to observe it.
        while (await health.Check(request)).status != want:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 5)
