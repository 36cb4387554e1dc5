"""The usage stream consumer against real Redis: acknowledged only after the ledger commit,
pending entries of dead consumers claimed, malformed entries dead-lettered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.exceptions import ResponseError
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from services.cost.database import create_engine, migrate
from services.cost.ledger.stream_consumer import (
    ConsumerSettings,
    StreamMetrics,
    UsageRecorder,
    UsageStreamConsumer,
)
from services.cost.ledger.writer import LedgerMetrics, LedgerWriter, RecordOutcome
from services.cost.price import PriceRow
from services.cost.tables import ledger
from services.cost.usage import UsageRecord
from tests.conftest import POSTGRES_ADMIN_URL
from tests.cost.ledger.conftest import GPT, T0, DictPricer

DEAR = PriceRow("house", "dear", datetime(2026, 1, 1, tzinfo=UTC), "USD", 5 * 10**12, 5 * 10**12)
"""Five million USD per million tokens: the most tokens an entry may carry (10**12 a field)
cost more than the ledger's integers hold (10**19 nanos), and 10**12 input tokens alone cost
5 * 10**18, so two such entries overflow their day's aggregate."""


def entry(request_id: str, **fields: str) -> dict[str, str]:
    """A stream entry as the router writes it (schema 1, flat string fields)."""
    return {
        "schema": "1",
        "request_id": request_id,
        "occurred_at": str(T0.timestamp()),
        "tenant": "acme",
        "subject": "users/ann",
        "endpoint": "chat",
        "model": "gpt-4o",
        "deployment": "openai-gpt-4o",
        "provider": "openai",
        "upstream_model": "gpt-4o",
        "input_tokens": "100",
        "output_tokens": "50",
        "cached_tokens": "0",
        "latency_ms": "20",
        "outcome": "success",
        "cache_hit": "0",
        "streamed": "0",
        "prompt_name": "",
        "prompt_version": "0",
        "flag_variants": "{}",
        "error_reason": "",
        **fields,
    }


async def ledger_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(ledger)) or 0)


async def pending(redis: aioredis.Redis, settings: ConsumerSettings) -> int:
    summary = await redis.xpending(settings.stream, settings.group)
    return int(summary["pending"])


async def add(redis: aioredis.Redis, stream: str, entries: Sequence[dict[str, str]]) -> None:
    for fields in entries:
        await redis.xadd(stream, fields)  # type: ignore[arg-type]


@pytest.fixture
def settings(key_prefix: str) -> ConsumerSettings:
    return ConsumerSettings(
        stream=f"{key_prefix}usage",
        consumer="cost-0",
        batch=50,
        block_ms=10,
        backoff_initial=0.001,
        backoff_max=0.01,
    )


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path}/cost.sqlite3"
    await migrate(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def make_writer(engine: AsyncEngine, pricer: DictPricer | None = None) -> LedgerWriter:
    return LedgerWriter(
        engine,
        pricer or DictPricer(),
        [],
        LedgerMetrics(CollectorRegistry()),
        max_delay=0.001,
        retry_delays=(0,),
    )


@pytest.fixture
async def writer(sqlite_engine: AsyncEngine) -> AsyncIterator[LedgerWriter]:
    writer = make_writer(sqlite_engine)
    yield writer
    await writer.aclose()


def consumer_of(
    redis: aioredis.Redis,
    recorder: UsageRecorder,
    settings: ConsumerSettings,
    registry: CollectorRegistry | None = None,
) -> UsageStreamConsumer:
    metrics = StreamMetrics(registry or CollectorRegistry())
    return UsageStreamConsumer(redis, recorder, settings, metrics)


class FlakyRecorder:
    """The real writer behind a switch: while `down`, every write fails as an outage would."""

    def __init__(self, writer: LedgerWriter, failures: int = 0) -> None:
        self.writer = writer
        self.failures = failures

    async def record(self, records: Sequence[UsageRecord]) -> list[RecordOutcome]:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("database unavailable")
        return await self.writer.record(records)


class ScriptedRecorder:
    """The real writer, after failing with each of `errors` in turn."""

    def __init__(self, writer: LedgerWriter, errors: Sequence[Exception]) -> None:
        self.writer = writer
        self.errors = list(errors)

    async def record(self, records: Sequence[UsageRecord]) -> list[RecordOutcome]:
        if self.errors:
            raise self.errors.pop(0)
        return await self.writer.record(records)


async def dead_letters(redis: aioredis.Redis, settings: ConsumerSettings) -> dict[bytes, bytes]:
    """request id -> reason of the dead-lettered entries."""
    dead: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(settings.dead_letter_stream)  # type: ignore[assignment]
    return {fields[b"request_id"]: fields[b"dead_reason"] for _id, fields in dead}


async def ledger_ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.scalars(select(ledger.c.request_id).order_by(ledger.c.request_id))
        return list(rows)


def dear(request_id: str, output_tokens: int) -> dict[str, str]:
    return entry(
        request_id,
        provider="house",
        model="dear",
        upstream_model="dear",
        input_tokens=str(10**12),
        output_tokens=str(output_tokens),
    )


async def test_entries_are_written_then_acknowledged(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    await add(redis_client, settings.stream, [entry(f"r{i}") for i in range(120)])
    await add(redis_client, settings.stream, [entry("r0")])  # a redelivery from the router
    consumer = consumer_of(redis_client, writer, settings)

    handled = [await consumer.poll() for _ in range(5)]

    assert sum(handled) == 121
    assert await ledger_count(sqlite_engine) == 120
    assert await pending(redis_client, settings) == 0


async def test_an_existing_group_is_joined_not_recreated(
    redis_client: aioredis.Redis, settings: ConsumerSettings, writer: LedgerWriter
) -> None:
    await add(redis_client, settings.stream, [entry("before")])
    first = consumer_of(redis_client, writer, settings)
    await first.ensure_group()
    await add(redis_client, settings.stream, [entry("after")])

    second = consumer_of(redis_client, writer, ConsumerSettings(settings.stream, consumer="b"))
    await second.ensure_group()

    assert await second.poll() == 2  # the group starts at the stream's beginning


async def test_a_failed_write_leaves_the_entries_pending_until_they_are_written(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    recorder = FlakyRecorder(writer, failures=1)
    consumer = consumer_of(redis_client, recorder, settings)
    await add(redis_client, settings.stream, [entry(f"r{i}") for i in range(10)])

    with pytest.raises(ConnectionRefusedError):
        await consumer.poll()
    assert await pending(redis_client, settings) == 10
    await add(redis_client, settings.stream, [entry("newer")])

    assert await consumer.poll() == 10  # its own pending entries first
    assert await consumer.poll() == 1
    assert await ledger_count(sqlite_engine) == 11
    assert await pending(redis_client, settings) == 0


async def test_a_dead_consumers_pending_entries_are_claimed_and_written(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    registry = CollectorRegistry()
    live = consumer_of(redis_client, writer, settings)
    await live.ensure_group()
    await add(redis_client, settings.stream, [entry(f"r{i}") for i in range(120)])
    # A replica reads a batch and dies before acknowledging it.
    await redis_client.xreadgroup(settings.group, "dead", {settings.stream: ">"}, count=120)

    patient = consumer_of(redis_client, writer, settings)
    assert await patient.claim() == 0  # not idle for a minute yet: left alone
    eager = ConsumerSettings(settings.stream, consumer="cost-0", batch=50, claim_idle_ms=0)
    claimer = consumer_of(redis_client, writer, eager, registry)

    assert await claimer.claim() == 120
    assert await ledger_count(sqlite_engine) == 120
    assert await pending(redis_client, settings) == 0
    assert registry.get_sample_value("cost_stream_claimed_total") == 120


async def test_malformed_entries_are_dead_lettered_and_never_block_the_group(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    bad = [
        entry("v2", schema="2"),
        entry("json", flag_variants="{not json"),
        entry("", tenant="acme"),
        entry("neg", input_tokens="-5"),
        entry("long", tenant="t" * 201),
    ]
    await add(redis_client, settings.stream, [entry("good-1"), *bad, entry("good-2")])
    registry = CollectorRegistry()
    consumer = consumer_of(redis_client, writer, settings, registry)

    assert await consumer.poll() == 7

    assert await ledger_count(sqlite_engine) == 2
    assert await pending(redis_client, settings) == 0
    dead: list[tuple[bytes, dict[bytes, bytes]]] = await redis_client.xrange(
        settings.dead_letter_stream
    )  # type: ignore[assignment]
    assert [fields[b"request_id"] for _id, fields in dead] == [b"v2", b"json", b"", b"neg", b"long"]
    assert b"schema" in dead[0][1][b"dead_reason"]
    assert registry.get_sample_value("cost_stream_malformed_total") == 5


async def test_a_deleted_stream_is_recreated_with_its_group(
    redis_client: aioredis.Redis, settings: ConsumerSettings, writer: LedgerWriter
) -> None:
    consumer = consumer_of(redis_client, writer, settings)
    await consumer.ensure_group()
    await consumer.poll()
    await redis_client.delete(settings.stream)

    with pytest.raises(ResponseError, match="NOGROUP"):
        await consumer.poll()
    await add(redis_client, settings.stream, [entry("again")])
    assert await consumer.poll() == 1


async def wait_for_count(engine: AsyncEngine, expected: int) -> None:
    for _ in range(500):
        if await ledger_count(engine) == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the ledger never reached {expected} events")


async def test_run_backs_off_after_failures_then_consumes_everything_until_stopped(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    registry = CollectorRegistry()
    consumer = consumer_of(redis_client, FlakyRecorder(writer, failures=3), settings, registry)
    await add(redis_client, settings.stream, [entry(f"r{i}") for i in range(200)])

    task = asyncio.create_task(consumer.run())
    await wait_for_count(sqlite_engine, 200)
    consumer.stop()
    await asyncio.wait_for(task, timeout=5)

    assert await pending(redis_client, settings) == 0
    assert registry.get_sample_value("cost_stream_failures_total") == 3
    assert registry.get_sample_value("cost_stream_entries_total") == 200


async def _admin(statement: str) -> None:
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def take_database_down(name: str) -> None:
    """A real outage of one database: no new connections, existing ones terminated."""
    await _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    await _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )


async def test_entries_written_during_a_postgresql_outage_are_acknowledged_only_after_it(
    redis_client: aioredis.Redis, settings: ConsumerSettings, postgres_url: str
) -> None:
    await migrate(postgres_url)
    engine = create_engine(postgres_url)
    writer = make_writer(engine)
    consumer = consumer_of(redis_client, writer, settings)
    name = str(make_url(postgres_url).database)
    await add(redis_client, settings.stream, [entry(f"first-{i}") for i in range(50)])
    assert await consumer.poll() == 50
    await add(redis_client, settings.stream, [entry(f"second-{i}") for i in range(50)])

    await take_database_down(name)
    try:
        with pytest.raises(Exception):  # noqa: B017, PT011  (whatever the driver raises)
            await consumer.poll()
        assert await pending(redis_client, settings) == 50
    finally:
        await _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    assert await consumer.poll() == 50
    assert await ledger_count(engine) == 100
    assert await pending(redis_client, settings) == 0
    await writer.aclose()
    await engine.dispose()


async def test_router_entries_are_read_field_for_field(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    fields = entry("full", flag_variants=json.dumps({"exp": "b"}), prompt_name="hi")
    await add(redis_client, settings.stream, [fields | {"prompt_version": "3"}])

    await consumer_of(redis_client, writer, settings).poll()

    async with sqlite_engine.connect() as conn:
        row = (await conn.execute(select(ledger))).mappings().one()
    assert (row["prompt_name"], row["prompt_version"], row["flag_variants"]) == (
        "hi",
        3,
        '{"exp": "b"}',
    )
    assert row["deployment"] == "openai-gpt-4o"


async def test_an_entry_the_ledger_refuses_is_dead_lettered_and_the_others_written(
    redis_client: aioredis.Redis, settings: ConsumerSettings, engine: AsyncEngine
) -> None:
    writer = make_writer(engine, DictPricer([GPT, DEAR]))
    registry = CollectorRegistry()
    consumer = consumer_of(redis_client, writer, settings, registry)
    poison = dear("poison", output_tokens=10**12)  # 10**19 nanos: not a BIGINT
    await add(redis_client, settings.stream, [entry("good-1"), poison, entry("good-2")])

    assert await consumer.poll() == 3
    await add(redis_client, settings.stream, [entry("later")])
    assert await consumer.poll() == 1  # the group moves on

    assert await ledger_ids(engine) == ["good-1", "good-2", "later"]
    assert await pending(redis_client, settings) == 0
    dead = await dead_letters(redis_client, settings)
    assert list(dead) == [b"poison"]
    assert dead[b"poison"].startswith(b"the ledger refused it")
    assert registry.get_sample_value("cost_stream_entries_total") == 3
    assert registry.get_sample_value("cost_stream_malformed_total") == 1
    await writer.aclose()


async def test_an_entry_overflowing_its_days_total_is_dead_lettered(
    redis_client: aioredis.Redis, settings: ConsumerSettings, postgres_url: str
) -> None:
    # PostgreSQL only: SQLite turns a sum beyond its integers into a float instead of failing.
    await migrate(postgres_url)
    engine = create_engine(postgres_url)
    writer = make_writer(engine, DictPricer([GPT, DEAR]))
    consumer = consumer_of(redis_client, writer, settings)
    entries = [dear("day-1", 0), entry("good-1"), dear("day-2", 0), entry("good-2")]
    await add(redis_client, settings.stream, entries)

    assert await consumer.poll() == 4

    assert await ledger_ids(engine) == ["day-1", "good-1", "good-2"]
    assert await pending(redis_client, settings) == 0
    assert list(await dead_letters(redis_client, settings)) == [b"day-2"]
    await writer.aclose()
    await engine.dispose()


async def test_entries_outside_the_ledgers_range_are_dead_lettered_before_the_write(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    late = datetime(9999, 12, 20, tzinfo=UTC).timestamp()  # its month ends in year 10000
    early = datetime(1999, 12, 31, tzinfo=UTC).timestamp()
    await add(
        redis_client,
        settings.stream,
        [
            entry("good-1"),
            entry("late", occurred_at=str(late)),
            entry("early", occurred_at=str(early)),
            entry("many", input_tokens=str(10**15)),
            entry("good-2"),
        ],
    )

    assert await consumer_of(redis_client, writer, settings).poll() == 5

    assert await ledger_ids(sqlite_engine) == ["good-1", "good-2"]
    assert await pending(redis_client, settings) == 0
    dead = await dead_letters(redis_client, settings)
    assert list(dead) == [b"late", b"early", b"many"]
    assert dead[b"late"].startswith(b"occurred_at: must be from 2000 until 9000")
    assert dead[b"many"].startswith(b"input_tokens: must be between 0 and")


async def test_a_transient_failure_while_isolating_leaves_the_rest_pending(
    redis_client: aioredis.Redis,
    settings: ConsumerSettings,
    writer: LedgerWriter,
    sqlite_engine: AsyncEngine,
) -> None:
    refused_then_down = [ValueError("out of range"), ConnectionRefusedError("database away")]
    consumer = consumer_of(redis_client, ScriptedRecorder(writer, refused_then_down), settings)
    await add(redis_client, settings.stream, [entry(f"r{i}") for i in range(4)])

    with pytest.raises(ConnectionRefusedError):
        await consumer.poll()
    assert await pending(redis_client, settings) == 4
    assert await dead_letters(redis_client, settings) == {}

    assert await consumer.poll() == 4
    assert await ledger_count(sqlite_engine) == 4
    assert await pending(redis_client, settings) == 0
