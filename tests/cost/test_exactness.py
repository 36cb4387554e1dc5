"""Exactness, as the cost service's acceptance asks, against PostgreSQL: 20,000 events, 20% of
them duplicates, sent concurrently by 8 producers through both the router's usage stream and
RecordUsage, with the service killed (SIGKILL) and restarted mid-way. The ledger's total equals
the expected sum exactly; no event is lost and none is counted twice: not its cost, and not its
latency in the aggregates (which reports divide into mean latency per request).

The stream producers write entries exactly as the router does (`UsageEvent.to_fields`), so this
also holds the router and the cost service to one stream format.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from switchboard.cost.v1 import cost_service_pb2 as pb
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.cost.database import create_engine
from services.cost.price import PriceRow, cost_of
from services.cost.usage import UsageRecord
from services.router.usage_events import UsageEvent
from tests.service_process import ServiceProcess, stop_all

from .cost_calls import at

pytestmark = pytest.mark.slow

UNIQUE = 16_000
DUPLICATES = 4_000
PRODUCERS = 8
BATCH = 100
RETRIED = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
PRICES = """
prices:
  - {provider: house, model: house-1, valid_from: "2020-01-01T00:00:00Z", currency: USD,
     input_per_million: "2.5", output_per_million: "10.125", cached_input_per_million: "1.25"}
"""
PRICE = PriceRow(
    "house", "house-1", datetime(2020, 1, 1, tzinfo=UTC), "USD",
    2_500_000_000, 10_125_000_000, cached_input_per_million=1_250_000_000,
)  # fmt: skip


def workload(seed: int = 7) -> list[UsageEvent]:
    """16,000 distinct calls, then 4,000 of them again, shuffled."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    calls = []
    for i in range(UNIQUE):
        tokens = rng.randint(1, 5000)
        calls.append(
            UsageEvent(
                request_id=f"req-{i}",
                occurred_at=(start + timedelta(milliseconds=i)).timestamp(),
                tenant=f"t{i % 7}",
                subject=f"users/u{i % 53}",
                endpoint="/v1/chat/completions",
                model="house-model",
                deployment="d",
                provider="house",
                upstream_model="house-1",
                input_tokens=tokens,
                output_tokens=rng.randint(0, 2000),
                cached_tokens=rng.randint(0, tokens),
                latency_ms=rng.randint(1, 900),
                outcome="success",
            )
        )
    everything = calls + rng.sample(calls, DUPLICATES)
    rng.shuffle(everything)
    return everything


def expected_total(events: list[UsageEvent]) -> int:
    unique = {e.request_id: e for e in events}.values()
    return sum(cost_of(_record(e), PRICE).nanos for e in unique)


def expected_latency(events: list[UsageEvent]) -> int:
    return sum(e.latency_ms for e in {e.request_id: e for e in events}.values())


def _record(e: UsageEvent) -> UsageRecord:
    return UsageRecord(
        request_id=e.request_id,
        occurred_at=datetime.fromtimestamp(e.occurred_at, UTC),
        input_tokens=e.input_tokens,
        output_tokens=e.output_tokens,
        cached_tokens=e.cached_tokens,
    )


def _message(e: UsageEvent) -> pb.UsageEvent:
    latency = Duration()
    latency.FromMilliseconds(e.latency_ms)
    return pb.UsageEvent(
        request_id=e.request_id,
        occurred_at=at(datetime.fromtimestamp(e.occurred_at, UTC)),
        tenant=e.tenant,
        subject=e.subject,
        endpoint=e.endpoint,
        model=e.model,
        deployment=e.deployment,
        provider=e.provider,
        upstream_model=e.upstream_model,
        input_tokens=e.input_tokens,
        output_tokens=e.output_tokens,
        cached_tokens=e.cached_tokens,
        latency=latency,
        outcome=e.outcome,
    )


async def test_twenty_thousand_events_through_both_paths_and_a_crash_count_exactly_once(
    redis_available: str, key_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    events = workload()
    prices = tmp_path / "prices.yaml"
    prices.write_text(PRICES)
    stream = f"{key_prefix}usage"
    env = {
        "COST_DATABASE_URL": postgres_url,
        "COST_REDIS_URL": redis_available,
        "COST_KEY_PREFIX": key_prefix,
        "COST_USAGE_STREAM": stream,
        "COST_PRICES_FILE": str(prices),
        "COST_STREAM_CLAIM_IDLE_SECONDS": "2",
    }
    first = ServiceProcess(env, tmp_path / "cost-1.log", "cost")
    second = ServiceProcess(env, tmp_path / "cost-2.log", "cost", port=first.port)
    redis = aioredis.Redis.from_url(redis_available)
    engine = create_engine(postgres_url)
    try:
        await asyncio.to_thread(first.start)
        async with grpc.aio.insecure_channel(first.address) as channel:
            stub = pb_grpc.CostServiceStub(channel)
            shares = [events[i::PRODUCERS] for i in range(PRODUCERS)]
            progress = {"sent": 0}
            producers = [
                _through_stream(redis, stream, share, progress)
                if i % 2
                else _through_rpc(stub, share, progress)
                for i, share in enumerate(shares)
            ]
            crash = _crash_and_restart(first, second, progress)
            await asyncio.gather(*producers, crash)
        await _until_ledger_has(engine, UNIQUE)
        await _until_stream_drained(redis, stream)
        async with engine.connect() as conn:
            count, total = (
                await conn.execute(text("SELECT count(*), sum(cost_nanos) FROM cost_ledger"))
            ).one()
            aggregated = (
                await conn.execute(
                    text(
                        "SELECT sum(requests), sum(cost_nanos), sum(latency_ms) "
                        "FROM cost_spend_daily"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
        await redis.aclose()
        await asyncio.to_thread(stop_all, [second])
        if first.process is not None and first.process.poll() is None:
            first.kill()
    expected = expected_total(events)
    assert count == UNIQUE
    assert int(total) == expected
    assert (int(aggregated[0]), int(aggregated[1])) == (UNIQUE, expected)
    assert int(aggregated[2]) == expected_latency(events)


async def _through_rpc(
    stub: pb_grpc.CostServiceStub,
    share: list[UsageEvent],
    progress: dict[str, int],
) -> None:
    for start in range(0, len(share), BATCH):
        batch = pb.RecordUsageRequest(events=[_message(e) for e in share[start : start + BATCH]])
        while True:  # a producer retries until it has an answer: at-least-once delivery
            try:
                await stub.RecordUsage(batch, timeout=30, wait_for_ready=True)
                break
            except grpc.aio.AioRpcError as error:
                if error.code() not in RETRIED:
                    raise
                await asyncio.sleep(0.05)
        progress["sent"] += len(batch.events)


async def _through_stream(
    redis: aioredis.Redis,
    stream: str,
    share: list[UsageEvent],
    progress: dict[str, int],
) -> None:
    for start in range(0, len(share), BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for e in share[start : start + BATCH]:
                pipe.xadd(stream, e.to_fields())  # type: ignore[arg-type]
            await pipe.execute()
        progress["sent"] += len(share[start : start + BATCH])
        await asyncio.sleep(0)


async def _crash_and_restart(
    first: ServiceProcess, second: ServiceProcess, progress: dict[str, int]
) -> None:
    while progress["sent"] < (UNIQUE + DUPLICATES) // 3:  # noqa: ASYNC110 (polling a count)
        await asyncio.sleep(0.01)
    await asyncio.to_thread(first.kill)
    await asyncio.to_thread(second.start)


async def _until_ledger_has(engine: AsyncEngine, count: int, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while True:
        async with engine.connect() as conn:
            found = (await conn.execute(text("SELECT count(*) FROM cost_ledger"))).scalar_one()
        if found >= count:
            return
        assert time.monotonic() < deadline, f"the ledger holds {found} of {count} events"
        await asyncio.sleep(0.1)


async def _until_stream_drained(redis: aioredis.Redis, stream: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        pending = await redis.xpending(stream, "cost-ledger")
        if pending["pending"] == 0:
            return
        assert time.monotonic() < deadline, f"{pending['pending']} stream entries never acked"
        await asyncio.sleep(0.1)
