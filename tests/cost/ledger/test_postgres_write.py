"""The PostgreSQL batch write (COPY into the stage, one statement for ledger and aggregates):
only new rows count (their latency too), and its aggregates equal the ones rebuilt from the
ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.database import create_engine, migrate
from services.cost.ledger.aggregates import rebuild
from services.cost.ledger.postgres_write import write_batch
from services.cost.ledger.rows import COLUMNS, ledger_row, ledger_values
from services.cost.ledger.writer import is_transient
from services.cost.ledger_hooks import PricedUsage
from services.cost.money import Money
from services.cost.tables import spend_daily, spend_flag_daily
from tests.cost.ledger.conftest import T0, usage


@pytest.fixture
async def pg_engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(postgres_url)
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


def priced(request_id: str, nanos: int | None, **fields: Any) -> PricedUsage:
    cost = Money("USD", nanos) if nanos is not None else None
    return PricedUsage(usage(request_id, **fields), cost, 7 if cost else None)


async def write(engine: AsyncEngine, events: list[PricedUsage]) -> set[str]:
    rows = [ledger_values(p, T0, "USD") for p in events]
    async with engine.begin() as conn:
        return await write_batch(conn, rows)


async def table(engine: AsyncEngine, which: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(which).order_by(*which.primary_key))).all()
    return [tuple(row) for row in rows]


def column(rows: list[tuple[Any, ...]], which: Any, name: str) -> list[Any]:
    index = list(which.c.keys()).index(name)
    return [row[index] for row in rows]


def test_a_rows_values_are_in_the_ledgers_column_order() -> None:
    event = priced("r", 5, user="ann", api_key_id="k", flag_variants={"b": "2", "a": "1"})

    row = ledger_row(event, T0, "USD")

    assert list(row) == list(COLUMNS)
    assert (row["user"], row["api_key_id"], row["cost_nanos"], row["price_id"]) == (
        "ann",
        "k",
        5,
        7,
    )
    assert row["flag_variants"] == '{"a": "1", "b": "2"}'


async def test_only_new_request_ids_are_inserted_and_counted(pg_engine: AsyncEngine) -> None:
    assert await write(pg_engine, []) == set()
    assert await write(pg_engine, [priced("a", 100), priced("b", 50)]) == {"a", "b"}

    again = await write(pg_engine, [priced("b", 50), priced("c", None, model="other")])

    assert again == {"c"}
    daily = await table(pg_engine, spend_daily)
    assert sorted((row[3], row[8], row[12], row[13]) for row in daily) == [
        ("gpt-4o", 150, 2, 0),
        ("other", 0, 1, 1),
    ]


async def test_the_incremental_aggregates_equal_a_rebuild_from_the_ledger(
    pg_engine: AsyncEngine,
) -> None:
    events = [
        priced(
            f"req-{i:03d}",
            None if i % 7 == 0 else 1_000_003 * i,
            occurred_at=T0 + timedelta(hours=5 * i),
            tenant=["acme", "Zeta", "émile"][i % 3],
            subject=f"users/{['ann', 'Bob', 'çe'][i % 3]}",
            flag_variants={"exp": "ab"[i % 2], "ünï": "x"} if i % 2 else {},
            prompt_name="greet" if i % 4 == 0 else "",
            prompt_version=i % 3,
            latency_ms=37 * i + 1,
        )
        for i in range(60)
    ]
    for start in range(0, 60, 25):  # overlapping batches: the repeats must count once
        await write(pg_engine, events[max(0, start - 5) : start + 25])
    incremental = (await table(pg_engine, spend_daily), await table(pg_engine, spend_flag_daily))

    assert await rebuild(pg_engine) == 60

    rebuilt = (await table(pg_engine, spend_daily), await table(pg_engine, spend_flag_daily))
    assert incremental == rebuilt
    assert sum(column(incremental[0], spend_daily, "requests")) == 60
    assert sum(column(incremental[1], spend_flag_daily, "requests")) == 60  # 30 flagged, 2 flags
    latencies = [37 * i + 1 for i in range(60)]
    assert sum(column(incremental[0], spend_daily, "latency_ms")) == sum(latencies)
    flagged = sum(latencies[1::2])
    assert sum(column(incremental[1], spend_flag_daily, "latency_ms")) == 2 * flagged


async def test_latency_of_only_the_new_rows_is_added(pg_engine: AsyncEngine) -> None:
    first = [
        priced("a", 100, latency_ms=40, flag_variants={"exp": "a"}),
        priced("b", 50, latency_ms=2),
    ]
    await write(pg_engine, first)

    # "b" again (a redelivery: same event) beside a new unpriced "c"
    again = await write(
        pg_engine, [priced("b", 50, latency_ms=2), priced("c", None, latency_ms=9_000)]
    )

    assert again == {"c"}
    daily = await table(pg_engine, spend_daily)
    assert column(daily, spend_daily, "latency_ms") == [9_042]
    assert column(daily, spend_daily, "requests") == [3]
    flags = await table(pg_engine, spend_flag_daily)
    assert column(flags, spend_flag_daily, "latency_ms") == [40]


def test_a_driver_error_with_a_transient_sqlstate_is_retried() -> None:
    assert is_transient(asyncpg.exceptions.DeadlockDetectedError("deadlock"))
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("duplicate"))
