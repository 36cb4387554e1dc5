"""Spend aggregates: per UTC day, tenant, subject, model, endpoint and prompt version
(`cost_spend_daily`), and per day, tenant, flag variant and model (`cost_spend_flag_daily`).

They are kept current by the ledger writer, in the transaction that inserts the ledger rows and
for the newly inserted rows only, so an aggregate counts an event exactly when the ledger holds
it. Each batch is first summed (one row per key), then upserted with `ON CONFLICT DO UPDATE
SET x = x + excluded.x` in key order, so concurrent writers lock rows in the same order and
cannot deadlock on them. On PostgreSQL the writer does this in SQL, in the statement that
inserts the ledger rows (`postgres_write`); `apply` below is SQLite's path, summed in Python.

The subject dimension is the event's `subject` (the caller: a user or a key, as the gateway
names it); spend per tenant, model or endpoint sums over the others. An unpriced event counts
in `requests` and `unpriced_requests` with a cost of 0, under the writer's default currency.
`latency_ms` is the sum of the events' latencies, added exactly when the tokens are (so a
duplicate adds none): a mean latency is `latency_ms / requests` over any group of rows.

`rebuild(engine)` recomputes both tables from `cost_ledger` in one transaction. Flag variants
are JSON text in the ledger, and SQL's JSON functions differ between SQLite and PostgreSQL, so
the flag table is summed in Python from the ledger streamed in chunks. The rebuild reads
every measure from the ledger, latency included: it is how aggregate rows older than
migration 0002 (whose latency is 0) get their latency.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.cost.ledger.rows import columnar, unnest_into
from services.cost.ledger_hooks import PricedUsage
from services.cost.tables import ledger, spend_daily, spend_flag_daily

MEASURES = (
    "cost_nanos",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "requests",
    "unpriced_requests",
    "latency_ms",
)
"""The aggregates' summed columns, in this order everywhere (rows, upserts, the rebuild)."""
DAILY_KEY = (
    "day",
    "tenant",
    "subject",
    "model",
    "endpoint",
    "prompt_name",
    "prompt_version",
    "currency",
)
FLAG_KEY = ("day", "tenant", "flag_key", "variant", "model", "currency")
CHUNK = 2000
"""Rows per executemany when upserting or rebuilding, and ledger rows fetched at a time."""

Key = tuple[Any, ...]
Sums = dict[Key, list[int]]


def utc_day(moment: datetime) -> date:
    """The UTC date of a time; a naive time (as SQLite returns them) is taken as UTC."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def _measures(priced: PricedUsage) -> list[int]:
    r = priced.record
    cost = priced.cost.nanos if priced.cost is not None else 0
    unpriced = 1 if priced.cost is None else 0
    return [cost, r.input_tokens, r.output_tokens, r.cached_tokens, 1, unpriced, r.latency_ms]


def _add(sums: Sums, key: Key, measures: Sequence[int]) -> None:
    found = sums.get(key)
    if found is None:
        sums[key] = list(measures)
    else:
        for i, value in enumerate(measures):
            found[i] += value


def sum_daily(recorded: Iterable[PricedUsage], default_currency: str) -> Sums:
    sums: Sums = {}
    for priced in recorded:
        r = priced.record
        currency = priced.cost.currency if priced.cost is not None else default_currency
        key = (
            utc_day(r.occurred_at),
            r.tenant,
            r.subject,
            r.model,
            r.endpoint,
            r.prompt_name,
            r.prompt_version,
            currency,
        )
        _add(sums, key, _measures(priced))
    return sums


def sum_flags(recorded: Iterable[PricedUsage], default_currency: str) -> Sums:
    sums: Sums = {}
    for priced in recorded:
        r = priced.record
        if not r.flag_variants:
            continue
        currency = priced.cost.currency if priced.cost is not None else default_currency
        measures = _measures(priced)
        day = utc_day(r.occurred_at)
        for flag_key, variant in r.flag_variants.items():
            _add(sums, (day, r.tenant, flag_key, variant, r.model, currency), measures)
    return sums


def _rows(sums: Sums, key_names: Sequence[str]) -> list[dict[str, Any]]:
    """One row per key, in key order: the lock order every writer follows."""
    return [
        dict(zip(key_names, key, strict=True)) | dict(zip(MEASURES, sums[key], strict=True))
        for key in sorted(sums)
    ]


def _upsert(conn: AsyncConnection, table: sa.Table, key_names: Sequence[str]) -> sa.Executable:
    postgres = conn.dialect.name == "postgresql"
    insert = unnest_into(table) if postgres else sqlite.insert(table)
    return insert.on_conflict_do_update(
        index_elements=list(key_names),
        set_={name: table.c[name] + insert.excluded[name] for name in MEASURES},
    )


async def _write(
    conn: AsyncConnection, table: sa.Table, key_names: Sequence[str], sums: Sums
) -> None:
    """PostgreSQL: one statement of arrays per chunk; SQLite: executemany."""
    rows = _rows(sums, key_names)
    statement = _upsert(conn, table, key_names)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        params = columnar(chunk, table) if conn.dialect.name == "postgresql" else chunk
        await conn.execute(statement, params)


async def apply(
    conn: AsyncConnection, recorded: Sequence[PricedUsage], default_currency: str
) -> None:
    """Adds newly recorded events to both aggregate tables, inside the caller's transaction."""
    await _write(conn, spend_daily, DAILY_KEY, sum_daily(recorded, default_currency))
    await _write(conn, spend_flag_daily, FLAG_KEY, sum_flags(recorded, default_currency))


def _day_of(conn: AsyncConnection) -> sa.ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", ledger.c.occurred_at), sa.Date)
    return sa.func.date(ledger.c.occurred_at)  # SQLite keeps UTC text without an offset


def _daily_from_ledger(day: sa.ColumnElement[Any]) -> sa.Select[Any]:
    c = ledger.c
    dims = [c.tenant, c.subject, c.model, c.endpoint, c.prompt_name, c.prompt_version, c.currency]
    unpriced = sa.case((c.cost_nanos.is_(None), 1), else_=0)
    return sa.select(
        day,
        *dims,
        sa.func.sum(sa.func.coalesce(c.cost_nanos, 0)),
        sa.func.sum(c.input_tokens),
        sa.func.sum(c.output_tokens),
        sa.func.sum(c.cached_tokens),
        sa.func.count(),
        sa.func.sum(unpriced),
        sa.func.sum(c.latency_ms),
    ).group_by(day, *dims)


async def _rebuild_flags(conn: AsyncConnection, day: sa.ColumnElement[Any]) -> None:
    c = ledger.c
    query = sa.select(
        day,
        c.tenant,
        c.model,
        c.currency,
        c.flag_variants,
        c.cost_nanos,
        c.input_tokens,
        c.output_tokens,
        c.cached_tokens,
        c.latency_ms,
    ).where(c.flag_variants != "{}")
    sums: Sums = {}
    result = await conn.stream(query.execution_options(yield_per=CHUNK))
    async for rows in result.partitions():
        for row in rows:
            when, tenant, model, currency, variants, cost, inp, out, cached, latency = row
            measures = [cost or 0, inp, out, cached, 1, 1 if cost is None else 0, latency]
            for flag_key, variant in json.loads(variants).items():
                key = (_as_date(when), tenant, flag_key, str(variant), model, currency)
                _add(sums, key, measures)
    await _write(conn, spend_flag_daily, FLAG_KEY, sums)


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def rebuild(engine: AsyncEngine) -> int:
    """Recomputes every aggregate from the ledger; the number of ledger events.

    On PostgreSQL the aggregate tables are locked (EXCLUSIVE: reads go on, writes wait) for the
    transaction first. A writer inserts its ledger rows before it updates the aggregates, so
    none can commit an event while the rebuild runs: each event is counted by the rebuild or
    by its writer afterwards, never by both and never by neither."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(
                sa.text("LOCK TABLE cost_spend_daily, cost_spend_flag_daily IN EXCLUSIVE MODE")
            )
        await conn.execute(sa.delete(spend_daily))
        await conn.execute(sa.delete(spend_flag_daily))
        day = _day_of(conn)
        names = [*DAILY_KEY, *MEASURES]
        await conn.execute(sa.insert(spend_daily).from_select(names, _daily_from_ledger(day)))
        await _rebuild_flags(conn, day)
        count = await conn.scalar(sa.select(sa.func.count()).select_from(ledger))
    return int(count or 0)
