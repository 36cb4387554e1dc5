"""Latency per prompt version and per flag variant, end to end: usage events (each delivered
more than once) through the ledger writer into the aggregates and out of a report, on SQLite
and PostgreSQL; and through the running service's RPCs in both of its modes.

The expectations are computed here, in plain Python, from the distinct events."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from switchboard.cost.v1 import cost_service_pb2 as pb

from services.cost.database import create_engine, migrate
from services.cost.ledger.writer import LedgerMetrics, LedgerWriter
from services.cost.reports.query import Dimension, SpendQuery
from services.cost.reports.spend import SpendReport
from services.cost.usage import UsageRecord
from tests.cost.conftest import StartCost
from tests.cost.cost_calls import NOW, at, event
from tests.cost.ledger.conftest import T0, DictPricer, usage

D = Dimension
DAY = timedelta(days=1)
PROMPTS = [("", 0), ("summarize", 9), ("summarize", 10), ("greet", 1)]
VARIANTS = [{}, {"model-exp": "a"}, {"model-exp": "b"}, {"model-exp": "b", "new-prompt": "on"}]

Means = dict[tuple[str, str], tuple[int, int, float]]
"""(group, currency) -> (latency total, requests, mean latency)."""


def calls(count: int, seed: int) -> list[UsageRecord]:
    rng = random.Random(seed)
    found = []
    for i in range(count):
        name, version = rng.choice(PROMPTS)
        found.append(
            usage(
                f"lat-{i:04d}",
                occurred_at=T0 + timedelta(minutes=rng.randrange(-600, 600)),
                prompt_name=name,
                prompt_version=version,
                flag_variants=rng.choice(VARIANTS),
                latency_ms=rng.randrange(1, 20_000),
                model=rng.choice(["gpt-4o", "unpriced"]),
            )
        )
    return found


def expected(events: Iterable[UsageRecord], dimension: Dimension) -> Means:
    sums: dict[tuple[str, str], list[int]] = {}
    for e in events:
        if dimension is D.PROMPT_VERSION:
            groups = [f"{e.prompt_name}@{e.prompt_version}" if e.prompt_name else ""]
        else:
            groups = [f"{key}={variant}" for key, variant in e.flag_variants.items()]
        for group in groups:
            found = sums.setdefault((group, "USD"), [0, 0])
            found[0] += e.latency_ms
            found[1] += 1
    return {key: (total, n, total / n) for key, (total, n) in sums.items()}


@pytest.fixture
async def empty_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("dimension", [D.PROMPT_VERSION, D.FLAG_VARIANT], ids=str)
async def test_mean_latency_of_recorded_events_per_group(
    empty_engine: AsyncEngine, dimension: Dimension
) -> None:
    events = calls(400, seed=11)
    rng = random.Random(12)
    deliveries = events + rng.sample(events, 150)  # redelivered: counted once
    rng.shuffle(deliveries)
    writer = LedgerWriter(
        empty_engine, DictPricer(), [], LedgerMetrics(CollectorRegistry()), max_delay=0.001
    )
    try:
        for start in range(0, len(deliveries), 100):
            await writer.record(deliveries[start : start + 100])
    finally:
        await writer.aclose()

    query = SpendQuery(T0 - 2 * DAY, T0 + 2 * DAY, group_by=(dimension,))
    result = await SpendReport(empty_engine).get(query)

    actual = {
        (row.group[dimension.value], row.currency): (
            row.measures.latency_ms,
            row.measures.requests,
            row.measures.mean_latency_ms,
        )
        for row in result.rows
    }
    assert actual == expected(events, dimension)
    assert result.totals["USD"].latency_ms == sum(e.latency_ms for e in events)


def _latency(milliseconds: int) -> Duration:
    value = Duration()
    value.FromMilliseconds(milliseconds)
    return value


async def test_get_spend_and_export_report_latency_per_prompt_version_and_variant(
    start_cost: StartCost,
) -> None:
    events = [
        event("a", prompt_name="greet", prompt_version=2, latency=_latency(100)),
        event("b", prompt_name="greet", prompt_version=2, latency=_latency(301)),
        event("c", prompt_name="greet", prompt_version=3, latency=_latency(50)),
        event("d", flag_variants={"exp": "on"}, latency=_latency(1_000)),
        event("e", flag_variants={"exp": "on"}, latency=_latency(2_001)),
        event("f", flag_variants={"exp": "off"}, latency=_latency(7)),
    ]
    start, end = at(NOW - DAY), at(NOW + DAY)
    by_prompt = pb.GetSpendRequest(
        start=start, end=end, group_by=[pb.SPEND_DIMENSION_PROMPT_VERSION]
    )
    by_variant = pb.GetSpendRequest(
        start=start, end=end, group_by=[pb.SPEND_DIMENSION_FLAG_VARIANT]
    )
    async with start_cost() as c:
        await c.stub.RecordUsage(pb.RecordUsageRequest(events=events))
        await c.stub.RecordUsage(pb.RecordUsageRequest(events=events[:2]))  # sent again
        prompts = await c.stub.GetSpend(by_prompt)
        variants = await c.stub.GetSpend(by_variant)
        exported = await c.stub.ExportSpend(pb.ExportSpendRequest(query=by_variant, format="json"))
        await c.stub.RebuildAggregates(pb.RebuildAggregatesRequest())
        rebuilt = await c.stub.GetSpend(by_prompt)

    def table(response: pb.GetSpendResponse, name: str) -> list[tuple[str, int, int, float]]:
        return [
            (r.group[name], r.latency_ms_total, r.requests, r.mean_latency_ms)
            for r in response.rows
        ]

    assert table(prompts, "prompt_version") == [
        ("", 3_008, 3, 3_008 / 3),
        ("greet@2", 401, 2, 200.5),
        ("greet@3", 50, 1, 50.0),
    ]
    assert table(variants, "flag_variant") == [("exp=off", 7, 1, 7.0), ("exp=on", 3_001, 2, 1500.5)]
    assert [
        (r["flag_variant"], r["latency_ms_total"], r["mean_latency_ms"])
        for r in json.loads(exported.data)
    ] == [("exp=off", 7, 7.0), ("exp=on", 3_001, 1500.5)]
    assert rebuilt == prompts
