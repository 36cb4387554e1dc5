"""The cost service's Alembic history on SQLite and PostgreSQL: it builds the tables as
`tables.py` declares them, 0002 adds the aggregates' latency to a database that already
holds spend (0 until a rebuild, which reads it from the ledger), and 0003 the budgets' owner
(the platform's, '', for the budgets that were there)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.database import MIGRATIONS, create_engine, migrate
from services.cost.ledger.aggregates import rebuild
from services.cost.ledger.rows import ledger_row
from services.cost.ledger_hooks import PricedUsage
from services.cost.money import Money
from services.cost.tables import ledger, metadata, spend_daily, spend_flag_daily
from tests.cost.ledger.conftest import T0, usage

AGGREGATES = (spend_daily, spend_flag_daily)


def _move(direction: str, revision: str, database_url: str) -> Callable[[Connection], None]:
    def move(sync: Connection) -> None:
        config = MIGRATIONS.config(database_url)
        config.attributes["connection"] = sync
        (command.upgrade if direction == "up" else command.downgrade)(config, revision)

    return move


async def _migrate(engine: AsyncEngine, database_url: str, direction: str, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_move(direction, revision, database_url))


def _columns(sync: Connection) -> dict[str, set[str]]:
    inspector = sa.inspect(sync)
    return {t.name: {c["name"] for c in inspector.get_columns(t.name)} for t in AGGREGATES}


async def test_the_migrated_schema_matches_the_tables(database_url: str) -> None:
    await migrate(database_url)

    def differences(sync: Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"version_table": MIGRATIONS.version_table})
        return list(compare_metadata(context, metadata))

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
    await engine.dispose()
    assert await MIGRATIONS.current_revision(database_url) == "0003_budget_owner"


def _events() -> list[PricedUsage]:
    return [
        PricedUsage(
            usage(
                f"old-{i}",
                occurred_at=T0 + timedelta(hours=13 * i),
                latency_ms=100 * i + 7,
                flag_variants={"exp": "ab"[i % 2]},
            ),
            Money("USD", 1_000 * i),
            1,
        )
        for i in range(6)
    ]


def _old_aggregates(events: list[PricedUsage]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The aggregate rows a writer before 0002 left: everything but latency."""
    daily: dict[date, dict[str, Any]] = {}
    flags: dict[tuple[date, str], dict[str, Any]] = {}
    for p in events:
        r = p.record
        day = r.occurred_at.date()
        [(flag, variant)] = r.flag_variants.items()
        assert p.cost is not None
        measures = {
            "cost_nanos": p.cost.nanos,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cached_tokens": r.cached_tokens,
            "requests": 1,
            "unpriced_requests": 0,
        }
        keys = {"tenant": r.tenant, "model": r.model, "currency": "USD"}
        row = daily.setdefault(
            day,
            {"day": day, **keys, "subject": r.subject, "endpoint": r.endpoint}
            | {"prompt_name": "", "prompt_version": 0}
            | dict.fromkeys(measures, 0),
        )
        flag_row = flags.setdefault(
            (day, variant),
            {"day": day, **keys, "flag_key": flag, "variant": variant} | dict.fromkeys(measures, 0),
        )
        for name, value in measures.items():
            row[name] += value
            flag_row[name] += value
    return list(daily.values()), list(flags.values())


async def _latency_by_key(engine: AsyncEngine) -> dict[str, dict[tuple[Any, ...], int]]:
    found: dict[str, dict[tuple[Any, ...], int]] = {}
    async with engine.connect() as conn:
        for table in AGGREGATES:
            key = [c for c in table.primary_key]
            rows = (await conn.execute(sa.select(*key, table.c.latency_ms))).all()
            found[table.name] = {tuple(row[:-1]): int(row[-1]) for row in rows}
    return found


async def test_0002_gives_existing_spend_zero_latency_until_a_rebuild_reads_the_ledger(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    events = _events()
    daily, flags = _old_aggregates(events)
    try:
        await _migrate(engine, database_url, "up", "0001_initial")
        old_table = sa.table("cost_spend_daily", *(sa.column(name) for name in daily[0]))
        old_flags = sa.table("cost_spend_flag_daily", *(sa.column(name) for name in flags[0]))
        async with engine.begin() as conn:
            await conn.execute(sa.insert(ledger), [ledger_row(p, T0, "USD") for p in events])
            await conn.execute(sa.insert(old_table), daily)
            await conn.execute(sa.insert(old_flags), flags)

        await _migrate(engine, database_url, "up", "head")

        migrated = await _latency_by_key(engine)
        assert len(migrated["cost_spend_daily"]) == len(daily) > 1
        assert len(migrated["cost_spend_flag_daily"]) == len(flags) > 1
        assert {v for table in migrated.values() for v in table.values()} == {0}

        assert await rebuild(engine) == len(events)

        rebuilt = await _latency_by_key(engine)
        assert rebuilt.keys() == migrated.keys()
        for name, rows in rebuilt.items():
            assert rows.keys() == migrated[name].keys()  # the same rows, now with latency
        expected_daily: dict[date, int] = {}
        for p in events:
            day = p.record.occurred_at.date()
            expected_daily[day] = expected_daily.get(day, 0) + p.record.latency_ms
        assert {key[0]: v for key, v in rebuilt["cost_spend_daily"].items()} == expected_daily
        assert sum(rebuilt["cost_spend_flag_daily"].values()) == sum(expected_daily.values())
    finally:
        await engine.dispose()


async def test_a_writer_that_does_not_name_latency_still_inserts_after_0002(
    database_url: str,
) -> None:
    """A replica still on the previous version, during a rolling upgrade."""
    await migrate(database_url)
    engine = create_engine(database_url)
    daily, _ = _old_aggregates(_events()[:1])
    old_table = sa.table("cost_spend_daily", *(sa.column(name) for name in daily[0]))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(old_table), daily)
        assert await _latency_by_key(engine) == {
            "cost_spend_daily": {tuple(daily[0][c.name] for c in spend_daily.primary_key): 0},
            "cost_spend_flag_daily": {},
        }
    finally:
        await engine.dispose()


async def test_downgrading_0002_removes_the_latency_columns(database_url: str) -> None:
    await migrate(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            before = await conn.run_sync(_columns)
        await _migrate(engine, database_url, "down", "0001_initial")
        async with engine.connect() as conn:
            after = await conn.run_sync(_columns)
    finally:
        await engine.dispose()

    for table in AGGREGATES:
        assert before[table.name] - after[table.name] == {"latency_ms"}
    assert await MIGRATIONS.current_revision(database_url) == "0001_initial"


async def test_0003_gives_existing_budgets_to_the_platform_and_downgrades_cleanly(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    old_budget = {
        "id": "b" * 32,
        "scope": "tenants/acme",
        "model": "",
        "period": "daily",
        "time_zone": "UTC",
        "currency": "USD",
        "limit_nanos": 1_000,
        "hard": True,
        "thresholds": "",
        "created_at": T0,
    }
    try:
        await _migrate(engine, database_url, "up", "0002_aggregate_latency")
        old_table = sa.table("cost_budgets", *(sa.column(name) for name in old_budget))
        async with engine.begin() as conn:
            await conn.execute(sa.insert(old_table), [old_budget])

        await _migrate(engine, database_url, "up", "head")
        async with engine.connect() as conn:
            owners = (await conn.execute(sa.text("SELECT owner FROM cost_budgets"))).scalars()
            assert list(owners) == [""]

        await _migrate(engine, database_url, "down", "0002_aggregate_latency")
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("cost_budgets")}
            )
        assert "owner" not in columns
        assert "scope" in columns
    finally:
        await engine.dispose()
