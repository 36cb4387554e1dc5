"""Resilience, as the router's acceptance asks: a primary failing half its calls with added
latency and a healthy secondary; 2,000 requests; the breaker seen to open, half-open and close;
two router processes sharing Redis agreeing on the breaker's state."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from tests.service_process import ServiceProcess, stop_all

from .conftest import RunningRouter, StartRouter, Upstream, catalogue, openai_deployment
from .service_calls import ask

pytestmark = pytest.mark.slow

REQUESTS = 2000
CONCURRENCY = 20
BREAKER = {
    "breaker_window_seconds": 2.0,
    "breaker_min_calls": 10,
    "breaker_failure_rate": 0.5,
    "breaker_consecutive_failures": 4,
    "breaker_open_seconds": 0.3,
}


def resilience_catalogue(primary: Upstream, secondary: Upstream) -> str:
    return catalogue(
        "gpt",
        openai_deployment("primary", primary, max_retries=1),
        openai_deployment("secondary", secondary, provider="anthropic"),
    )


async def primary_state(stub: pb_grpc.RouterServiceStub) -> pb.DeploymentStatus:
    reply: pb.ListDeploymentsResponse = await stub.ListDeployments(pb.ListDeploymentsRequest())
    return next(s for s in reply.deployments if s.deployment == "primary")


async def load(r: RunningRouter, seen: set[int]) -> tuple[int, int]:
    """(successes, failures) of REQUESTS calls, CONCURRENCY at a time, watching the circuit."""
    counts = {"ok": 0, "failed": 0}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(REQUESTS):
        queue.put_nowait(i)

    async def caller() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            try:
                await r.stub.Complete(ask("gpt", f"question {i}"), timeout=30)
                counts["ok"] += 1
            except grpc.aio.AioRpcError:
                counts["failed"] += 1
            if i % 25 == 0:
                seen.add((await primary_state(r.stub)).circuit)

    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    return counts["ok"], counts["failed"]


@pytest.mark.parametrize("router_mode", ["shared"], indirect=True)
async def test_a_flaky_primary_costs_no_answers_and_its_breaker_cycles(
    start_router: StartRouter, openai_upstream: Upstream, anthropic_upstream: Upstream
) -> None:
    openai_upstream.control.failure_rate = 0.5
    openai_upstream.control.latency_seconds = 0.005
    text = resilience_catalogue(openai_upstream, anthropic_upstream)
    seen: set[int] = set()
    async with start_router(text, **BREAKER) as r:
        ok, failed = await load(r, seen)
        transitions = {
            to: r.metric("router_circuit_transitions_total", deployment="primary", to=to)
            for to in ("open", "half_open", "closed")
        }
    assert ok / REQUESTS >= 0.999, f"{failed} of {REQUESTS} failed"
    assert all(count >= 1 for count in transitions.values()), transitions
    assert {pb.CIRCUIT_STATE_OPEN, pb.CIRCUIT_STATE_CLOSED} <= seen
    assert len(anthropic_upstream.control.requests) > 0


@pytest.mark.parametrize("router_mode", ["shared"], indirect=True)
async def test_two_router_processes_sharing_redis_agree_on_the_breaker(
    start_router: StartRouter,
    openai_upstream: Upstream,
    anthropic_upstream: Upstream,
    router_mode: dict[str, Any],
    tmp_path: Path,
) -> None:
    text = resilience_catalogue(openai_upstream, anthropic_upstream)
    settings = {**BREAKER, "breaker_open_seconds": 1.0}
    async with start_router(text, **settings) as a:
        other = ServiceProcess(_environment(a, settings), tmp_path / "router-b.log", "router")
        try:
            await asyncio.to_thread(other.start)
            async with grpc.aio.insecure_channel(other.address) as channel:
                b = pb_grpc.RouterServiceStub(channel)
                await _agreement(a, b, openai_upstream)
        finally:
            await asyncio.to_thread(stop_all, [other])


async def _agreement(a: RunningRouter, b: pb_grpc.RouterServiceStub, primary: Upstream) -> None:
    primary.control.failure_rate = 1.0
    while (await primary_state(a.stub)).circuit != pb.CIRCUIT_STATE_OPEN:
        await a.stub.Complete(ask("gpt"))
    opened_by_a, seen_by_b = await primary_state(a.stub), await primary_state(b)
    assert seen_by_b.circuit == pb.CIRCUIT_STATE_OPEN
    assert seen_by_b.retry_at == opened_by_a.retry_at
    before = len(primary.control.requests)
    assert (await b.Complete(ask("gpt"))).served.deployment == "secondary"
    assert len(primary.control.requests) == before  # B skipped the primary too
    primary.control.failure_rate = 0.0
    await asyncio.sleep(max(0.0, opened_by_a.retry_at.ToNanoseconds() / 1e9 - time.time()) + 0.05)
    assert (await b.Complete(ask("gpt", "probe"))).served.deployment == "primary"
    assert (await primary_state(a.stub)).circuit == pb.CIRCUIT_STATE_CLOSED


def _environment(a: RunningRouter, settings: dict[str, Any]) -> dict[str, str]:
    values = {
        "models_file": str(a.settings.models_file),
        "redis_url": a.settings.redis_url,
        "key_prefix": a.settings.key_prefix,
        "database_url": a.settings.database_url,
        "job_workers": "0",
        **{k: str(v) for k, v in settings.items()},
    }
    return {f"ROUTER_{k.upper()}": v for k, v in values.items()}
