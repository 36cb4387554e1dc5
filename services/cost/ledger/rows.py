"""Ledger rows: a priced usage event as a `cost_ledger` row (a tuple in column order, what
COPY takes, or a dict), and SQLite's batched insert that keeps only the request ids the ledger
did not have.

The insert is one statement per batch, `ON CONFLICT (request_id) DO NOTHING RETURNING
request_id`: the primary key decides what is new, whoever else writes at the same time, and
the returned ids are exactly the rows this transaction added (a duplicate returns nothing).
On SQLite (the embedded mode) it is the dialect's insert, executemany, which SQLAlchemy sends
as multi-row VALUES (`insertmanyvalues`). PostgreSQL's write is `postgres_write` (COPY into a
staging table, then ledger and aggregates in one statement); `unnest_into` (one array
parameter per column: one cached statement whatever the batch size) remains for the
aggregates' rebuild and the benchmark's raw insert.

Rows are passed in request-id order, so concurrent writers take the key locks in one order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.cost.ledger_hooks import PricedUsage
from services.cost.tables import NAME, ledger
from services.cost.usage import UsageRecord

COLUMNS: tuple[str, ...] = tuple(column.name for column in ledger.c)
LedgerRow = tuple[Any, ...]
"""One `cost_ledger` row, its values in `COLUMNS` order."""
REQUEST_ID_MAX = 128
BIGINT_MAX = 2**63 - 1
_TEXT_FIELDS = (
    "tenant",
    "subject",
    "user",
    "api_key_id",
    "endpoint",
    "model",
    "deployment",
    "provider",
    "upstream_model",
    "prompt_name",
)
_INT_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "latency_ms",
    "prompt_version",
)


class UnstorableUsage(ValueError):
    """A usage event the ledger's columns cannot hold. Checked before an event joins a batch,
    so one caller's bad event never fails the other callers' events batched with it."""


def check_storable(record: UsageRecord) -> None:
    problems = []
    if not 0 < len(record.request_id) <= REQUEST_ID_MAX:
        problems.append(f"request_id must have 1 to {REQUEST_ID_MAX} characters")
    if record.occurred_at.tzinfo is None:
        problems.append("occurred_at must be timezone-aware")
    problems += [f"{name} is longer than {NAME}" for name in _TEXT_FIELDS if _long(record, name)]
    problems += [
        f"{name} must be between 0 and {BIGINT_MAX}"
        for name in _INT_FIELDS
        if not 0 <= getattr(record, name) <= BIGINT_MAX
    ]
    if any(len(key) > NAME or len(value) > NAME for key, value in record.flag_variants.items()):
        problems.append(f"flag keys and variants are at most {NAME} characters")
    if len(record.outcome) > 16:
        problems.append("outcome is longer than 16")
    if problems:
        name = record.request_id[:REQUEST_ID_MAX]
        raise UnstorableUsage(f"usage event {name!r}: " + "; ".join(problems))


def _long(record: UsageRecord, name: str) -> bool:
    return len(getattr(record, name)) > NAME


def variants_json(record: UsageRecord) -> str:
    if not record.flag_variants:
        return "{}"  # most events: no json.dumps call
    return json.dumps(dict(record.flag_variants), sort_keys=True, ensure_ascii=False)


def ledger_values(priced: PricedUsage, recorded_at: datetime, default_currency: str) -> LedgerRow:
    """The `cost_ledger` row of one event as a tuple in `COLUMNS` order (what COPY takes; no
    dict per row); times in UTC (SQLite keeps no offset)."""
    r, cost = priced.record, priced.cost
    return (
        r.request_id,
        r.occurred_at.astimezone(UTC),
        recorded_at,
        r.tenant,
        r.subject,
        r.user,
        r.api_key_id,
        r.endpoint,
        r.model,
        r.deployment,
        r.provider,
        r.upstream_model,
        r.input_tokens,
        r.output_tokens,
        r.cached_tokens,
        r.cache_write_tokens,
        r.reasoning_tokens,
        r.latency_ms,
        r.outcome,
        r.cache_hit,
        r.prompt_name,
        r.prompt_version,
        variants_json(r),
        cost.currency if cost is not None else default_currency,
        cost.nanos if cost is not None else None,
        priced.price_id,
    )


def ledger_row(priced: PricedUsage, recorded_at: datetime, default_currency: str) -> dict[str, Any]:
    """The `cost_ledger` row of one event as a dict (SQLite's executemany, the benchmark)."""
    return dict(zip(COLUMNS, ledger_values(priced, recorded_at, default_currency), strict=True))


def unnest_into(table: sa.Table) -> postgresql.Insert:
    """PostgreSQL: `INSERT INTO table (every column) SELECT * FROM unnest(one array per
    column)`, taking `columnar(rows, table)` as its parameters: one statement, one round trip
    and one cached plan whatever the number of rows."""
    names = [column.name for column in table.c]
    arrays = [sa.bindparam(c.name, type_=postgresql.ARRAY(c.type)) for c in table.c]
    source = sa.func.unnest(*arrays).table_valued(*names).render_derived()
    return postgresql.insert(table).from_select(names, sa.select(*(source.c[n] for n in names)))


def unnest_insert(table: sa.Table, on_conflict: bool = True) -> sa.Executable:
    """An insert from arrays into `table`, skipping known request ids unless `on_conflict` is
    False (the benchmark's plain insert into a copy of the ledger)."""
    insert = unnest_into(table)
    if not on_conflict:
        return insert
    return insert.on_conflict_do_nothing(index_elements=["request_id"]).returning(
        table.c.request_id
    )


_SQLITE_INSERT = (
    sqlite.insert(ledger)
    .on_conflict_do_nothing(index_elements=["request_id"])
    .returning(ledger.c.request_id)
)


def columnar(rows: Sequence[dict[str, Any]], table: sa.Table = ledger) -> dict[str, list[Any]]:
    return {c.name: [row[c.name] for row in rows] for c in table.c}


async def insert_new(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """SQLite: inserts the rows the ledger does not have yet; their request ids."""
    if not rows:
        return set()
    result = await conn.execute(_SQLITE_INSERT, list(rows))
    return set(result.scalars().all())
