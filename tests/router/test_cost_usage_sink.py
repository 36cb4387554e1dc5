"""Usage events to the cost service over gRPC (the embedded suite's path, without Redis):
delivered once, kept while the cost service is away, refused batches dropped and counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc

from services.cost.app import build as build_cost
from services.cost.settings import CostSettings
from services.router.buffered_usage_sink import Backoff
from services.router.cost_usage_sink import CostUsageSink
from services.router.usage_events import UsageEvent, UsageMetrics
from svckit.server import create_server
from tests.ports import free_port

NOW = datetime.now(UTC).timestamp()

CostServer = Callable[[int], AbstractAsyncContextManager[cost_grpc.CostServiceStub]]


def usage(request_id: str, **fields: object) -> UsageEvent:
    values: dict[str, object] = {
        "occurred_at": NOW,
        "tenant": "acme",
        "subject": "users/u1",
        "endpoint": "/v1/chat/completions",
        "model": "mock-gpt",
        "deployment": "mock-primary",
        "provider": "mock",
        "upstream_model": "mock-1",
        "input_tokens": 10,
        "output_tokens": 5,
        "cached_tokens": 0,
        "latency_ms": 20,
        "outcome": "success",
        **fields,
    }
    return UsageEvent(request_id=request_id, **values)  # type: ignore[arg-type]


@pytest.fixture
def cost_server(tmp_path: Path) -> CostServer:
    @asynccontextmanager
    async def serve(port: int) -> AsyncIterator[cost_grpc.CostServiceStub]:
        settings = CostSettings(sqlite_path=tmp_path / "cost.sqlite3")
        app = build_cost(settings, environ={}).app
        server = create_server(app, address=f"127.0.0.1:{port}")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield cost_grpc.CostServiceStub(channel)
        finally:
            await channel.close()
            await server.stop(grace=1.0)

    return serve


async def requests_recorded(stub: cost_grpc.CostServiceStub) -> int:
    spend = await stub.GetSpend(cost_pb.GetSpendRequest())
    return sum(row.requests for row in spend.rows)


async def test_events_reach_the_ledger_once_even_when_sent_twice(cost_server: CostServer) -> None:
    port = free_port()
    registry = CollectorRegistry()
    sink = CostUsageSink(f"127.0.0.1:{port}", UsageMetrics(registry))
    async with cost_server(port) as stub:
        for i in range(30):
            sink.emit(usage(f"r{i}"))
        sink.emit(usage("r0"))  # delivered twice: the ledger keeps one
        await sink.flush(10)
        recorded = await requests_recorded(stub)
        await sink.aclose()
    assert recorded == 30
    assert registry.get_sample_value("router_usage_events_emitted_total") == 31


async def test_events_wait_while_the_cost_service_is_away(cost_server: CostServer) -> None:
    port = free_port()
    registry = CollectorRegistry()
    fast = Backoff(initial_seconds=0.01, max_seconds=0.05)
    sink = CostUsageSink(f"127.0.0.1:{port}", UsageMetrics(registry), backoff=fast)
    for i in range(5):
        sink.emit(usage(f"early-{i}"))
    await sink.flush(0.5)  # nobody listens yet
    assert sink.pending == 5
    assert (registry.get_sample_value("router_usage_write_failures_total") or 0) >= 1
    async with cost_server(port) as stub:
        await sink.flush(10)
        recorded = await requests_recorded(stub)
        await sink.aclose()
    assert recorded == 5


async def test_a_batch_the_cost_service_refuses_is_dropped_and_counted(
    cost_server: CostServer,
) -> None:
    port = free_port()
    registry = CollectorRegistry()
    sink = CostUsageSink(f"127.0.0.1:{port}", UsageMetrics(registry))
    async with cost_server(port) as stub:
        sink.emit(usage("bad", cached_tokens=50))  # more cached than input tokens
        await sink.flush(10)
        sink.emit(usage("good"))
        await sink.flush(10)
        recorded = await requests_recorded(stub)
        await sink.aclose()
    assert recorded == 1
    assert (
        registry.get_sample_value("router_usage_events_dropped_total", {"reason": "refused"}) == 1
    )
