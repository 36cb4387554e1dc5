"""Spend aggregates on SQLite and PostgreSQL: kept current by the writer, equal to a rebuild
from the ledger, also while writers are writing; latency summed once per event, like tokens."""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.ledger.aggregates import rebuild
from services.cost.ledger.writer import LedgerWriter
from services.cost.price import cost_of
from services.cost.tables import ledger, spend_daily, spend_flag_daily
from tests.cost.ledger.conftest import GPT, T0, usage


async def snapshot(engine: AsyncEngine, table: sa.Table) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(table))).all()
    return sorted(tuple(row) for row in rows)


def total(rows: list[tuple[Any, ...]], table: sa.Table, column: str) -> int:
    """The sum of one column over a snapshot's rows."""
    index = list(table.c.keys()).index(column)
    return sum(int(row[index]) for row in rows)


def varied_events(count: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    events = []
    for i in range(count):
        unknown = rng.random() < 0.1
        events.append(
            usage(
                f"v-{i:05d}",
                occurred_at=T0 + timedelta(hours=rng.randrange(-30, 30)),
                tenant=rng.choice(["acme", "globex"]),
                subject=rng.choice(["users/ann", "users/bob", "keys/k1"]),
                endpoint=rng.choice(["chat", "embeddings"]),
                model="odd" if unknown else "gpt-4o",
                upstream_model="odd" if unknown else "gpt-4o",
                prompt_name=rng.choice(["", "greeting"]),
                prompt_version=rng.choice([0, 1, 2]),
                input_tokens=rng.randrange(0, 3_000),
                cached_tokens=0,
                latency_ms=rng.randrange(0, 30_000),
                flag_variants=rng.choice([{}, {"exp": "a"}, {"exp": "b", "beta": "on"}]),
            )
        )
    return events


async def test_spend_is_summed_per_utc_day_and_dimensions(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    late_evening_in_new_york = T0.replace(hour=23).astimezone(timezone(timedelta(hours=-5)))
    await writer.record(
        [
            usage("a", latency_ms=120),
            usage("b", input_tokens=1_000, latency_ms=80),
            usage("c", occurred_at=late_evening_in_new_york + timedelta(hours=2), latency_ms=300),
            usage("d", subject="users/bob", latency_ms=45),
        ]
    )

    rows = await snapshot(engine, spend_daily)
    key = ("acme", "users/ann", "gpt-4o", "chat", "", 0, "USD")
    a, b = cost_of(usage("a"), GPT).nanos, cost_of(usage("b", input_tokens=1_000), GPT).nanos
    assert rows == [
        (date(2026, 11, 27), *key, a + b, 2_234, 1_134, 400, 2, 0, 200),
        (date(2026, 11, 27), "acme", "users/bob", *key[2:], a, 1_234, 567, 200, 1, 0, 45),
        (date(2026, 11, 28), *key, a, 1_234, 567, 200, 1, 0, 300),
    ]


async def test_each_flag_variant_of_an_event_gets_its_own_row(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    await writer.record(
        [
            usage("a", flag_variants={"exp": "a", "beta": "on"}, latency_ms=100),
            usage("b", flag_variants={"exp": "a"}, latency_ms=30),
            usage("c", model="x", upstream_model="x", flag_variants={"exp": "b"}, latency_ms=7),
            usage("d", latency_ms=5_000),
        ]
    )

    rows = await snapshot(engine, spend_flag_daily)
    a = cost_of(usage("a"), GPT).nanos
    day = date(2026, 11, 27)
    assert rows == [
        (day, "acme", "beta", "on", "gpt-4o", "USD", a, 1_234, 567, 200, 1, 0, 100),
        (day, "acme", "exp", "a", "gpt-4o", "USD", 2 * a, 2_468, 1_134, 400, 2, 0, 130),
        (day, "acme", "exp", "b", "x", "USD", 0, 1_234, 567, 200, 1, 1, 7),
    ]


async def test_a_rebuild_equals_the_incremental_aggregates(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    events = varied_events(600, seed=1)
    await writer.record(events[:300])
    await writer.record(events[200:])
    incremental = (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily))

    async with engine.begin() as conn:  # damage them: the rebuild must not depend on them
        # latency 0 is also how rows from before migration 0002 look
        await conn.execute(sa.update(spend_daily).values(cost_nanos=1, latency_ms=0))
        await conn.execute(sa.delete(spend_flag_daily).where(spend_flag_daily.c.variant == "a"))
    count = await rebuild(engine)

    assert count == 600
    rebuilt = (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily))
    assert rebuilt == incremental
    assert len(incremental[1]) > 4


async def test_a_rebuild_of_an_empty_ledger_empties_the_aggregates(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    await writer.record([usage("a", flag_variants={"exp": "a"})])
    async with engine.begin() as conn:
        await conn.execute(sa.delete(ledger))

    assert await rebuild(engine) == 0
    assert await snapshot(engine, spend_daily) == []
    assert await snapshot(engine, spend_flag_daily) == []


async def test_rebuilds_while_writers_write_count_every_event_once(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    events = varied_events(3_000, seed=2)
    batches = [events[i : i + 100] for i in range(0, len(events), 100)]

    async def rebuild_repeatedly() -> None:
        for _ in range(5):
            await rebuild(engine)
            await asyncio.sleep(0)

    await asyncio.gather(*(writer.record(batch) for batch in batches), rebuild_repeatedly())

    incremental = (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily))
    await rebuild(engine)
    assert (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily)) == (
        incremental
    )
    assert total(incremental[0], spend_daily, "requests") == 3_000
    assert total(incremental[0], spend_daily, "latency_ms") == sum(e.latency_ms for e in events)


async def test_latency_is_summed_once_per_event_however_often_it_is_delivered(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    """At-least-once delivery: every event comes two or three times, in overlapping batches
    written concurrently, and repeated within a batch. Each event's latency counts once, in
    both tables, and the rebuild from the ledger agrees."""
    events = varied_events(900, seed=3)
    rng = random.Random(4)
    deliveries = events + rng.sample(events, 600) + rng.sample(events, 300)
    rng.shuffle(deliveries)
    batches = [deliveries[i : i + 150] + deliveries[i : i + 10] for i in range(0, 1800, 150)]

    outcomes = await asyncio.gather(*(writer.record(batch) for batch in batches))

    assert sum(o.recorded for batch in outcomes for o in batch) == 900
    daily, flags = await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily)
    assert total(daily, spend_daily, "latency_ms") == sum(e.latency_ms for e in events)
    assert total(daily, spend_daily, "requests") == 900
    flagged = [e for e in events for _ in e.flag_variants]
    assert total(flags, spend_flag_daily, "latency_ms") == sum(e.latency_ms for e in flagged)
    by_variant: dict[tuple[str, str], int] = {}
    for e in events:
        for pair in e.flag_variants.items():
            by_variant[pair] = by_variant.get(pair, 0) + e.latency_ms
    assert await _latency_per_variant(engine) == by_variant
    async with engine.connect() as conn:
        in_ledger = await conn.scalar(sa.select(sa.func.sum(ledger.c.latency_ms)))
    assert int(in_ledger or 0) == sum(e.latency_ms for e in events)

    await rebuild(engine)
    assert (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily)) == (
        daily,
        flags,
    )


async def _latency_per_variant(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    t = spend_flag_daily.c
    query = sa.select(t.flag_key, t.variant, sa.func.sum(t.latency_ms)).group_by(
        t.flag_key, t.variant
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {(key, variant): int(latency) for key, variant, latency in rows}


async def test_an_event_sent_again_later_adds_no_latency(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    await writer.record([usage("a", latency_ms=250, flag_variants={"exp": "a"})])
    before = (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily))

    [again] = await writer.record([usage("a", latency_ms=250, flag_variants={"exp": "a"})])

    assert not again.recorded
    assert (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily)) == (
        before
    )
    assert total(before[0], spend_daily, "latency_ms") == 250
    assert total(before[1], spend_flag_daily, "latency_ms") == 250
