"""A batch's write on PostgreSQL: COPY into a staging table, then one statement that inserts
the new ledger rows and adds exactly those to both aggregate tables.

1. The rows go by COPY (asyncpg's binary `copy_records_to_table`) into `cost_ledger_stage`, a
   temporary table of the ledger's shape (`ON COMMIT DELETE ROWS`: private to the connection,
   no WAL, emptied at commit). COPY is the cheapest way to get rows into the server: no
   parameters to bind, no per-row statement. It cannot skip duplicates, hence the stage.
2. One statement, one round trip:

       WITH ins AS (INSERT INTO cost_ledger SELECT * FROM stage ORDER BY request_id
                    ON CONFLICT (request_id) DO NOTHING RETURNING ...),
            daily AS (INSERT INTO cost_spend_daily SELECT ... FROM ins GROUP BY ...
                      ORDER BY ... ON CONFLICT (...) DO UPDATE SET x = x + excluded.x),
            flags AS (the same per flag variant, from jsonb_each_text(ins.flag_variants))
       SELECT request_id FROM ins

   `ins` holds exactly the rows this transaction added (the primary key decides, whatever
   else writes at the same time), so the aggregates count an event exactly when the ledger
   holds it, as the Python path of `aggregates` does, and the returned ids are the new events.
   GROUP BY makes one row per key (ON CONFLICT DO UPDATE may touch a row once per statement).

Lock order: ledger rows by request id and aggregate rows by key, compared with COLLATE "C"
(code point order, which is Python's string order, so writers of any version agree).

The stage is created (`IF NOT EXISTS`) in every transaction rather than once per connection:
a creation rolled back with its transaction, or a pooler handing out another server
connection, then costs nothing but a catalog lookup. The statement through SQLAlchemy comes
first because it starts the transaction that the driver-level COPY then joins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # (no stubs; one exception class used)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.cost.ledger.aggregates import DAILY_KEY, FLAG_KEY, MEASURES
from services.cost.ledger.rows import COLUMNS, LedgerRow

STAGE = "cost_ledger_stage"
CREATE_STAGE = f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (LIKE cost_ledger) ON COMMIT DELETE ROWS"

_DAY = "(occurred_at AT TIME ZONE 'UTC')::date"
_SUM_OF = {
    "cost_nanos": "sum(coalesce(cost_nanos, 0))",
    "input_tokens": "sum(input_tokens)",
    "output_tokens": "sum(output_tokens)",
    "cached_tokens": "sum(cached_tokens)",
    "requests": "count(*)",
    "unpriced_requests": "count(*) FILTER (WHERE cost_nanos IS NULL)",
    "latency_ms": "sum(latency_ms)",
}
"""Each aggregate measure's expression over the new ledger rows."""
assert tuple(_SUM_OF) == MEASURES, "one expression per measure, in the upsert's column order"
_SUMS = ", ".join(_SUM_OF.values())
_RETURNED = (
    "request_id, occurred_at, tenant, subject, model, endpoint, prompt_name, prompt_version, "
    "currency, cost_nanos, input_tokens, output_tokens, cached_tokens, latency_ms, flag_variants"
)


def _c_order(expressions: Sequence[str]) -> str:
    """ORDER BY in code point order: COLLATE "C" on the text columns."""
    text = {"tenant", "subject", "model", "endpoint", "prompt_name", "currency", "f.key", "f.value"}
    return ", ".join(f'{e} COLLATE "C"' if e in text else e for e in expressions)


def _upsert(table: str, key: Sequence[str], select: str) -> str:
    measures = ", ".join(MEASURES)
    add = ", ".join(f"{m} = t.{m} + excluded.{m}" for m in MEASURES)
    return (
        f"INSERT INTO {table} AS t ({', '.join(key)}, {measures}) {select} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {add}"
    )


def _statement() -> str:
    daily_dims = list(DAILY_KEY[1:])
    daily = (
        f"SELECT {_DAY} AS day, {', '.join(daily_dims)}, {_SUMS} FROM ins "
        f"GROUP BY {_DAY}, {', '.join(daily_dims)} "
        f"ORDER BY 1, {_c_order(daily_dims)}"
    )
    flag_dims = ["tenant", "f.key", "f.value", "model", "currency"]
    assert len(flag_dims) == len(FLAG_KEY) - 1
    flags = (
        f"SELECT {_DAY} AS day, {', '.join(flag_dims)}, {_SUMS} "
        "FROM ins, jsonb_each_text(ins.flag_variants::jsonb) AS f "
        "WHERE ins.flag_variants <> '{}' "
        f"GROUP BY {_DAY}, {', '.join(flag_dims)} "
        f"ORDER BY 1, {_c_order(flag_dims)}"
    )
    return (
        f"WITH ins AS (INSERT INTO cost_ledger SELECT * FROM {STAGE} "
        'ORDER BY request_id COLLATE "C" '
        f"ON CONFLICT (request_id) DO NOTHING RETURNING {_RETURNED}), "
        f"daily AS ({_upsert('cost_spend_daily', DAILY_KEY, daily)}), "
        f"flags AS ({_upsert('cost_spend_flag_daily', FLAG_KEY, flags)}) "
        "SELECT request_id FROM ins"
    )


WRITE = _statement()


async def write_batch(conn: AsyncConnection, rows: Sequence[LedgerRow]) -> set[str]:
    """Inserts the rows the ledger does not have yet and adds them to the aggregates, inside
    the caller's transaction; the request ids inserted."""
    if not rows:
        return set()
    await conn.exec_driver_sql(CREATE_STAGE)  # also starts the driver's transaction
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    try:
        await driver.copy_records_to_table(STAGE, records=rows, columns=COLUMNS)
    except asyncpg.ConnectionDoesNotExistError as exc:  # raw driver call: SQLAlchemy wraps nothing
        raise ConnectionError(f"COPY into {STAGE} failed: {exc}") from exc
    result = await conn.exec_driver_sql(WRITE)
    return set(result.scalars().all())
