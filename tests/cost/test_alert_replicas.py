"""Alerts with two cost replicas consuming one usage stream: each threshold of a budget fires
exactly once in its period, and a watcher on either replica sees each alert once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis
from switchboard.cost.v1 import cost_service_pb2 as pb
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.router.usage_events import UsageEvent
from tests.service_process import ServiceProcess, stop_all

pytestmark = pytest.mark.slow

EVENTS = 400
PRICES = """
prices:
  - {provider: house, model: house-1, valid_from: "2020-01-01T00:00:00Z", currency: USD,
     input_per_million: "1", output_per_million: "1"}
"""
# Each event: 1,000 input tokens at 1 USD per million = 1,000,000 nanos.
EVENT_COST = 1_000_000
THRESHOLDS = list(range(10, 101, 10))


def call(i: int) -> UsageEvent:
    return UsageEvent(
        request_id=f"r{i}",
        occurred_at=datetime.now(UTC).timestamp(),
        tenant="acme",
        subject="users/u1",
        endpoint="/v1/chat/completions",
        model="house-model",
        deployment="d",
        provider="house",
        upstream_model="house-1",
        input_tokens=1000,
        output_tokens=0,
        cached_tokens=0,
        latency_ms=5,
        outcome="success",
    )


async def test_each_threshold_fires_once_with_two_replicas_on_one_stream(
    redis_available: str, key_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    stream = f"{key_prefix}usage"
    env = {
        "COST_DATABASE_URL": postgres_url,
        "COST_REDIS_URL": redis_available,
        "COST_KEY_PREFIX": key_prefix,
        "COST_USAGE_STREAM": stream,
        "COST_PRICES_FILE": str(prices),
        "COST_STREAM_BATCH_SIZE": "7",  # small batches: the replicas interleave
    }
    replicas = [ServiceProcess(env, tmp_path / f"cost-{i}.log", "cost") for i in range(2)]
    redis = aioredis.Redis.from_url(redis_available)
    try:
        await asyncio.gather(*(asyncio.to_thread(r.start) for r in replicas))
        async with (
            grpc.aio.insecure_channel(replicas[0].address) as first,
            grpc.aio.insecure_channel(replicas[1].address) as second,
        ):
            a, b = pb_grpc.CostServiceStub(first), pb_grpc.CostServiceStub(second)
            budget = pb.Budget(
                scope="users/u1",
                period=pb.BUDGET_PERIOD_DAILY,
                limit=pb.Money(currency_code="USD", nanos=100 * EVENT_COST),
                hard=False,
                thresholds=THRESHOLDS,
            )
            created = (await a.CreateBudget(pb.CreateBudgetRequest(budget=budget))).budget
            watch_a = a.WatchAlerts(pb.WatchAlertsRequest(scope="users/u1"))
            watch_b = b.WatchAlerts(pb.WatchAlertsRequest(scope="users/u1"))
            await asyncio.sleep(1.5)  # both watchers subscribed, budgets cached on both
            for start in range(0, EVENTS, 20):
                async with redis.pipeline(transaction=False) as pipe:
                    for i in range(start, start + 20):
                        pipe.xadd(stream, call(i).to_fields())  # type: ignore[arg-type]
                    await pipe.execute()
            seen_a = [await asyncio.wait_for(watch_a.read(), 30) for _ in THRESHOLDS]
            seen_b = [await asyncio.wait_for(watch_b.read(), 30) for _ in THRESHOLDS]
            status = await _settled(a, created.budget_id, EVENTS * EVENT_COST)
            alerts = await b.ListAlerts(pb.ListAlertsRequest(budget_id=created.budget_id))
            watch_a.cancel()
            watch_b.cancel()
        entries = [r.metric("cost_stream_entries_total") for r in replicas]
        consumed = await redis.xinfo_consumers(stream, "cost-ledger")
    finally:
        await redis.aclose()
        await asyncio.to_thread(stop_all, replicas)
    assert sorted(a.threshold for a in alerts.alerts) == THRESHOLDS
    assert sorted(r.alert.threshold for r in seen_a) == THRESHOLDS
    assert sorted(r.alert.threshold for r in seen_b) == THRESHOLDS
    assert status.spent.nanos == EVENTS * EVENT_COST
    assert len(consumed) == 2
    assert all(count > 0 for count in entries), entries  # both replicas took a share


async def _settled(
    stub: pb_grpc.CostServiceStub, budget_id: str, spent: int, within: float = 60
) -> pb.BudgetStatus:
    deadline = time.monotonic() + within
    while True:
        reply: pb.GetBudgetResponse = await stub.GetBudget(pb.GetBudgetRequest(budget_id=budget_id))
        status = reply.status
        if status.spent.nanos >= spent:
            return status
        assert time.monotonic() < deadline, f"spent {status.spent.nanos} of {spent}"
        await asyncio.sleep(0.1)
