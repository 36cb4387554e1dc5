"""`make bench-cost`: usage events/s into the PostgreSQL ledger, exactly once, against a raw
batched insert of the same rows measured in the same run.

Each round uses a fresh database on the server at `--database-url` (created, migrated with the
service's own migrations, dropped afterwards). `--events` usage events, `--duplicates` of them
repeats of others (a redelivery from the stream or a retried RPC), are shuffled and sent by
`--producers` concurrent producers in calls of `--call-size` events each, the way the stream
consumer and the RecordUsage RPC call the ledger writer:

    ledger       LedgerWriter.record: coalesced into batches, deduplicated, priced, inserted
                 with ON CONFLICT DO NOTHING, aggregates upserted, committed (no hooks: budgets
                 are not part of this figure), `--concurrency` transactions in flight
    raw (keyed)  the rows the ledger ends up holding (one per unique event, already priced)
                 into a table of the ledger's shape: the same primary key on request_id and
                 the same occurred_at index, which the ledger needs. Plain INSERT, no conflict
                 handling, pricing or aggregates; batches of `--max-batch` rows, `--concurrency`
                 transactions in flight; three ways: INSERT ... SELECT FROM unnest(arrays),
                 executemany, and COPY (asyncpg's copy_records_to_table)
    raw (keyless) the same into a copy of the columns without any key or index (information
                 only: a ledger cannot do without its key)

The ratio is the fastest keyed raw insert's time over the ledger's time for the same stored
rows (the ledger also takes the duplicates, which the raw insert is spared): the price of
exactness, and the figure to compare across machines. The prepared inputs (events, rows) are
moved out of the garbage collector's sight (`gc.freeze`) before anything is timed: a service
does not hold 50,000 events in its heap, and traversing them cost the ledger a quarter of its
Python time. After each round the ledger and both
aggregate tables are checked against the unique events, exactly. Results: stdout and
`build/bench/cost.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from services.cost.database import create_engine, migrate
from services.cost.ledger.batch_pricing import price_batch
from services.cost.ledger.rows import COLUMNS, columnar, ledger_row, unnest_insert
from services.cost.ledger.writer import LedgerMetrics, LedgerWriter
from services.cost.price import PriceRow
from services.cost.tables import ledger, spend_daily, spend_flag_daily
from services.cost.usage import UsageRecord

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "bench" / "cost.json"
START = datetime(2026, 11, 27, tzinfo=UTC)
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]
PRICES = [
    PriceRow(p, m, START - timedelta(days=30), "USD", 1_250_000 * (i + 1), 5_000_001, id=i)
    for i, (p, m) in enumerate(MODELS)
]
RAW_VARIANTS = (
    "keyed_unnest",
    "keyed_executemany",
    "keyed_copy",
    "keyless_unnest",
    "keyless_executemany",
    "keyless_copy",
)


class BenchPricer:
    """The prices in memory, as the real price book keeps them (one dict lookup)."""

    def __init__(self) -> None:
        self._by_model = {(row.provider, row.model): row for row in PRICES}

    async def price_for(self, record: UsageRecord) -> PriceRow | None:
        return self._by_model.get((record.provider, record.upstream_model))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server (its database is used only to create and drop the bench's)",
    )
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--duplicates", type=float, default=0.2, help="share of repeated events")
    p.add_argument("--producers", type=int, default=8)
    p.add_argument("--call-size", type=int, default=100, help="events per record() call")
    p.add_argument("--max-batch", type=int, default=1000, help="the writer's batch size")
    p.add_argument(
        "--concurrency", type=int, default=2, help="transactions in flight (writer and raw)"
    )
    p.add_argument("--rounds", type=int, default=1, help="repetitions (medians reported)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, default=OUT)
    args = p.parse_args(argv)
    if (
        min(
            args.events,
            args.producers,
            args.call_size,
            args.max_batch,
            args.rounds,
            args.concurrency,
        )
        <= 0
    ):
        p.error(
            "--events, --producers, --call-size, --max-batch, --rounds, --concurrency: positive"
        )
    if not 0 <= args.duplicates < 1:
        p.error("--duplicates must be in [0, 1)")
    return args


def make_events(count: int, duplicates: float, rng: random.Random) -> list[UsageRecord]:
    unique_count = max(1, round(count * (1 - duplicates)))
    unique = []
    for i in range(unique_count):
        provider, model = MODELS[i % len(MODELS)]
        unique.append(
            UsageRecord(
                request_id=f"bench-{i:08d}-{rng.getrandbits(32):08x}",
                occurred_at=START + timedelta(seconds=rng.randrange(3 * 86_400)),
                tenant=f"tenant-{rng.randrange(20)}",
                subject=f"users/u{rng.randrange(500)}",
                endpoint=rng.choice(["chat", "embeddings"]),
                model=model,
                deployment=f"{provider}-{model}",
                provider=provider,
                upstream_model=model,
                input_tokens=rng.randrange(10_000),
                output_tokens=rng.randrange(2_000),
                cached_tokens=rng.randrange(100),
                latency_ms=rng.randrange(5_000),
                flag_variants={"exp": rng.choice("ab")} if i % 4 == 0 else {},
            )
        )
    events = unique + [rng.choice(unique) for _ in range(count - unique_count)]
    rng.shuffle(events)
    return events


async def admin(server_url: str, statement: str) -> None:
    url = make_url(server_url).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


async def timed(run: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


async def run_ledger(
    engine: AsyncEngine, events: list[UsageRecord], args: argparse.Namespace
) -> float:
    writer = LedgerWriter(
        engine,
        BenchPricer(),
        [],
        LedgerMetrics(CollectorRegistry()),
        max_batch=args.max_batch,
        concurrency=args.concurrency,
    )
    shares = [events[i :: args.producers] for i in range(args.producers)]

    async def producer(share: Sequence[UsageRecord]) -> None:
        for start in range(0, len(share), args.call_size):
            await writer.record(share[start : start + args.call_size])

    async def everything() -> None:
        await asyncio.gather(*(producer(share) for share in shares))
        await writer.aclose()

    return await timed(everything)


def raw_table(name: str, keyed: bool) -> sa.Table:
    """A table of the ledger's columns; `keyed`: with its primary key and occurred_at index."""
    columns = [
        sa.Column(c.name, c.type, primary_key=keyed and c.primary_key, index=keyed and c.index)
        for c in ledger.c
    ]
    return sa.Table(name, sa.MetaData(), *columns)


async def _copy(conn: AsyncConnection, table: sa.Table, batch: list[dict[str, Any]]) -> None:
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    records = [tuple(row[name] for name in COLUMNS) for row in batch]
    await driver.copy_records_to_table(table.name, records=records, columns=COLUMNS)


async def run_raw(
    engine: AsyncEngine, rows: list[dict[str, Any]], args: argparse.Namespace, variant: str
) -> float:
    """A plain batched insert of `rows`; `variant` is "keyed_<how>" or "keyless_<how>"."""
    shape, how = variant.split("_", 1)
    table = raw_table(f"raw_{variant}", keyed=shape == "keyed")
    async with engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
    statement = unnest_insert(table, on_conflict=False) if how == "unnest" else table.insert()
    batches = [rows[i : i + args.max_batch] for i in range(0, len(rows), args.max_batch)]
    batches.reverse()  # popped from the end: the producers' order

    async def worker() -> None:
        while batches:
            batch = batches.pop()
            async with engine.begin() as conn:
                if how == "copy":
                    await _copy(conn, table, batch)
                else:
                    params: Any = columnar(batch, table) if how == "unnest" else batch
                    await conn.execute(statement, params)

    async def workers() -> None:
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))

    return await timed(workers)


async def check_exact(engine: AsyncEngine, events: list[UsageRecord]) -> dict[str, Any]:
    """The ledger and both aggregate tables against the unique events, exactly."""
    unique = list({e.request_id: e for e in events}.values())
    priced = await price_batch(BenchPricer(), unique)
    expected = sum(p.cost.nanos for p in priced if p.cost)
    flagged = sum(len(e.flag_variants) for e in unique)
    flag_nanos = sum(p.cost.nanos * len(p.record.flag_variants) for p in priced if p.cost)
    async with engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(ledger))
        total = await conn.scalar(sa.select(sa.func.sum(ledger.c.cost_nanos)))
        daily = (
            await conn.execute(
                sa.select(
                    sa.func.sum(spend_daily.c.cost_nanos), sa.func.sum(spend_daily.c.requests)
                )
            )
        ).one()
        flags = (
            await conn.execute(
                sa.select(
                    sa.func.sum(spend_flag_daily.c.cost_nanos),
                    sa.func.sum(spend_flag_daily.c.requests),
                )
            )
        ).one()
    aggregates_exact = (int(daily[0] or 0), int(daily[1] or 0)) == (expected, len(unique)) and (
        int(flags[0] or 0),
        int(flags[1] or 0),
    ) == (flag_nanos, flagged)
    return {
        "unique_events": len(unique),
        "ledger_events": int(count or 0),
        "expected_nanos": expected,
        "ledger_nanos": int(total or 0),
        "aggregates_exact": aggregates_exact,
        "exact": count == len(unique) and total == expected and aggregates_exact,
    }


async def one_round(args: argparse.Namespace, round_: int) -> dict[str, Any]:
    events = make_events(args.events, args.duplicates, random.Random(args.seed + round_))
    name = f"bench_cost_{uuid.uuid4().hex[:12]}"
    await admin(args.database_url, f'CREATE DATABASE "{name}"')
    url = make_url(args.database_url).set(drivername="postgresql+asyncpg", database=name)
    url_text = url.render_as_string(hide_password=False)
    engine = create_engine(url_text)
    try:
        await migrate(url_text)
        unique = list({e.request_id: e for e in events}.values())
        priced = await price_batch(BenchPricer(), unique)
        now = datetime.now(UTC)
        rows = [ledger_row(p, now, "USD") for p in priced]
        result: dict[str, Any] = {"round": round_, "events": len(events), "rows": len(rows)}
        gc.collect()
        gc.freeze()  # the prepared inputs are the harness's, not the paths' working set
        for variant in RAW_VARIANTS:
            seconds = await run_raw(engine, rows, args, variant)
            result[f"raw_{variant}"] = {"seconds": seconds, "rows_per_s": len(rows) / seconds}
        seconds = await run_ledger(engine, events, args)
        result["ledger"] = {
            "seconds": seconds,
            "events_per_s": len(events) / seconds,
            "rows_per_s": len(rows) / seconds,
        }
        best = max(result[f"raw_{v}"]["rows_per_s"] for v in RAW_VARIANTS if v.startswith("keyed"))
        result["ratio_to_raw"] = result["ledger"]["rows_per_s"] / best
        result["exactness"] = await check_exact(engine, events)
        return result
    finally:
        gc.unfreeze()
        await engine.dispose()
        await admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def median(*path: str) -> float:
        values = []
        for r in rounds:
            value: Any = r
            for key in path:
                value = value[key]
            values.append(value)
        return float(statistics.median(values))

    ratios = [r["ratio_to_raw"] for r in rounds]
    return {
        "ledger_events_per_s": median("ledger", "events_per_s"),
        "ledger_rows_per_s": median("ledger", "rows_per_s"),
        **{f"raw_{v}_rows_per_s": median(f"raw_{v}", "rows_per_s") for v in RAW_VARIANTS},
        "ratio_to_raw": statistics.median(ratios),
        "ratio_range": [min(ratios), max(ratios)],
        "exact": all(r["exactness"]["exact"] for r in rounds),
    }


def render(summary: dict[str, Any], args: argparse.Namespace) -> str:
    low, high = summary["ratio_range"]
    spread = f" ({low:.2f}-{high:.2f})" if args.rounds > 1 else ""
    raw = [
        f"| raw {variant.replace('_', ' ')} | | {summary[f'raw_{variant}_rows_per_s']:,.0f} |"
        for variant in RAW_VARIANTS
    ]
    return "\n".join(
        [
            f"{args.events:,} events, {args.duplicates:.0%} duplicates, {args.producers} "
            f"producers, calls of {args.call_size}, batches of {args.max_batch}, "
            f"{args.concurrency} in flight, {args.rounds} round(s) (medians)",
            "",
            "| path | events/s | stored rows/s |",
            "|---|---:|---:|",
            f"| ledger (exactly once, priced, aggregated) | {summary['ledger_events_per_s']:,.0f}"
            f" | {summary['ledger_rows_per_s']:,.0f} |",
            *raw,
            "",
            f"ratio to the fastest keyed raw insert (same stored rows): "
            f"{summary['ratio_to_raw']:.2f}{spread}",
            f"ledger and aggregates exact: {'yes' if summary['exact'] else 'NO'}",
        ]
    )


async def bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for round_ in range(args.rounds):
        print(f"round {round_ + 1}/{args.rounds} ...", flush=True)
        results.append(await one_round(args, round_))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rounds = asyncio.run(bench(args))
    except (OSError, sa.exc.DBAPIError) as exc:
        print(f"bench-cost: no PostgreSQL at {args.database_url}: {exc}", file=sys.stderr)
        return 1
    summary = summarize(rounds)
    print(render(summary, args))
    meta = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlalchemy": sa.__version__,
    } | {
        k: getattr(args, k)
        for k in (
            "events",
            "duplicates",
            "producers",
            "call_size",
            "max_batch",
            "concurrency",
            "rounds",
        )
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {"meta": meta, "summary": summary, "rounds": rounds}
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0 if summary["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
