"""Spend aggregates on SQLite and PostgreSQL: kept current by the writer, equal to a rebuild
from the ledger, also while writers are writing."""

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
            usage("a"),
            usage("b", input_tokens=1_000),
            usage("c", occurred_at=late_evening_in_new_york + timedelta(hours=2)),
            usage("d", subject="users/bob"),
        ]
    )

    rows = await snapshot(engine, spend_daily)
    key = ("acme", "users/ann", "gpt-4o", "chat", "", 0, "USD")
    a, b = cost_of(usage("a"), GPT).nanos, cost_of(usage("b", input_tokens=1_000), GPT).nanos
    assert rows == [
        (date(2026, 11, 27), *key, a + b, 2_234, 1_134, 400, 2, 0),
        (date(2026, 11, 27), "acme", "users/bob", *key[2:], a, 1_234, 567, 200, 1, 0),
        (date(2026, 11, 28), *key, a, 1_234, 567, 200, 1, 0),
    ]


async def test_each_flag_variant_of_an_event_gets_its_own_row(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    await writer.record(
        [
            usage("a", flag_variants={"exp": "a", "beta": "on"}),
            usage("b", flag_variants={"exp": "a"}),
            usage("c", model="x", upstream_model="x", flag_variants={"exp": "b"}),
            usage("d"),
        ]
    )

    rows = await snapshot(engine, spend_flag_daily)
    a = cost_of(usage("a"), GPT).nanos
    day = date(2026, 11, 27)
    assert rows == [
        (day, "acme", "beta", "on", "gpt-4o", "USD", a, 1_234, 567, 200, 1, 0),
        (day, "acme", "exp", "a", "gpt-4o", "USD", 2 * a, 2_468, 1_134, 400, 2, 0),
        (day, "acme", "exp", "b", "x", "USD", 0, 1_234, 567, 200, 1, 1),
    ]


async def test_a_rebuild_equals_the_incremental_aggregates(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    events = varied_events(600, seed=1)
    await writer.record(events[:300])
    await writer.record(events[200:])
    incremental = (await snapshot(engine, spend_daily), await snapshot(engine, spend_flag_daily))

    async with engine.begin() as conn:  # damage them: the rebuild must not depend on them
        await conn.execute(sa.update(spend_daily).values(cost_nanos=1))
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
    assert sum(row[-2] for row in incremental[0]) == 3_000
