"""Usage events: the event and its stream fields, one behavioural suite over both sinks, and the
Redis sink's own promises (exactly once under concurrency, nothing lost in an outage).

`sink_case` is parametrized: each test using it runs on `MemoryUsageSink` and on `RedisUsageSink`
(the shared Redis, a stream under the test's key prefix); `delivered()` reads what reached the
consumer's side (the in-process queue, or the stream through XRANGE).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.router.buffered_usage_sink import Backoff
from services.router.memory_usage_sink import MemoryUsageSink, UsageSinkClosed
from services.router.redis_usage_sink import RedisUsageSink, StreamSettings, usage_stream
from services.router.usage_events import SCHEMA_VERSION, UsageEvent, UsageMetrics, UsageSink
from tests.redis_server import RedisServer

EVENT = UsageEvent(
    request_id="req-1",
    occurred_at=1736164800.25,
    tenant="acme",
    subject="users/u1",
    endpoint="/v1/chat/completions",
    model="gpt-4o",
    deployment="openai-east",
    provider="openai",
    upstream_model="gpt-4o-2024-08-06",
    input_tokens=1200,
    output_tokens=340,
    cached_tokens=1024,
    latency_ms=812,
    outcome="success",
    streamed=True,
    prompt_name="support-reply",
    prompt_version=4,
    flag_variants={"model-experiment": "b", "tone": "friendly"},
)


def event(number: int, emitter: int = 0) -> UsageEvent:
    return dataclasses.replace(EVENT, request_id=f"req-{emitter}-{number}")


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def dropped(registry: CollectorRegistry, reason: str) -> float:
    return sample(registry, "router_usage_events_dropped_total", reason=reason)


async def read_stream(client: aioredis.Redis, stream: str) -> list[UsageEvent]:
    entries = await client.xrange(stream)
    return [UsageEvent.from_fields(fields or {}) for _, fields in entries or []]


# The event.


def test_an_event_round_trips_through_its_stream_fields() -> None:
    fields = EVENT.to_fields()

    assert all(isinstance(value, str) for value in fields.values())
    assert fields["schema"] == str(SCHEMA_VERSION)
    assert fields["flag_variants"] == '{"model-experiment": "b", "tone": "friendly"}'
    assert (fields["streamed"], fields["cache_hit"]) == ("1", "0")
    assert UsageEvent.from_fields(fields) == EVENT


def test_cache_writes_round_trip_apart_from_the_input_tokens() -> None:
    event = dataclasses.replace(EVENT, cache_write_tokens=4096)
    fields = event.to_fields()

    assert (fields["input_tokens"], fields["cache_write_tokens"]) == ("1200", "4096")
    assert UsageEvent.from_fields(fields) == event


def test_an_entry_written_before_cache_writes_were_sent_reads_them_as_zero() -> None:
    fields = EVENT.to_fields()
    del fields["cache_write_tokens"]

    assert UsageEvent.from_fields(fields).cache_write_tokens == 0


def test_a_cache_hit_with_cache_writes_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="cache hit"):
        dataclasses.replace(
            EVENT,
            cache_hit=True,
            input_tokens=0,
            output_tokens=0,
            cached_tokens=0,
            cache_write_tokens=5,
        )


def test_an_event_is_read_back_from_the_bytes_a_redis_client_returns() -> None:
    raw = {key.encode(): value.encode() for key, value in EVENT.to_fields().items()}

    assert UsageEvent.from_fields(raw) == EVENT


def test_fields_added_later_are_ignored_and_optional_ones_default() -> None:
    fields = {
        "schema": "1",
        "request_id": "req-9",
        "occurred_at": "1.5",
        "outcome": "error",
        "error_reason": "UPSTREAM_TIMEOUT",
        "added_in_a_later_release": "x",
    }

    read = UsageEvent.from_fields(fields)

    assert (read.request_id, read.outcome, read.error_reason) == (
        "req-9",
        "error",
        "UPSTREAM_TIMEOUT",
    )
    assert (read.input_tokens, read.flag_variants, read.cache_hit) == (0, {}, False)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schema": "2"}, "schema"),
        ({"schema": None}, "schema"),
        ({"request_id": None}, "request_id"),
        ({"input_tokens": "many"}, "invalid literal"),
        ({"flag_variants": "{"}, "not JSON"),
        ({"flag_variants": "[]"}, "not a JSON object"),
        ({"outcome": "maybe"}, "outcome"),
    ],
)
def test_an_entry_that_is_not_an_event_of_this_schema_is_refused(
    changes: dict[str, str | None], message: str
) -> None:
    fields: dict[str, str] = EVENT.to_fields()
    for key, value in changes.items():
        if value is None:
            del fields[key]
        else:
            fields[key] = value

    with pytest.raises(ValueError, match=message):
        UsageEvent.from_fields(fields)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"request_id": ""}, "request id"),
        ({"outcome": "ok"}, "outcome"),
        ({"output_tokens": -1}, "negative"),
        ({"latency_ms": -1}, "negative"),
        ({"cache_write_tokens": -1}, "negative"),
        ({"cache_hit": True}, "cache hit"),
    ],
)
def test_an_inconsistent_event_cannot_be_made(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(EVENT, **changes)


def test_a_cache_hit_is_recorded_at_zero_upstream_tokens_and_says_so() -> None:
    hit = dataclasses.replace(
        EVENT,
        cache_hit=True,
        deployment="",
        provider="",
        input_tokens=0,
        output_tokens=0,
        cached_tokens=0,
    )

    fields = hit.to_fields()

    assert fields["cache_hit"] == "1"
    assert (fields["input_tokens"], fields["output_tokens"]) == ("0", "0")
    assert UsageEvent.from_fields(fields) == hit


# Both sinks: one suite.


@dataclass
class SinkCase:
    sink: UsageSink
    registry: CollectorRegistry
    delivered: Callable[[], Awaitable[list[UsageEvent]]]


BUFFER = 10


@pytest.fixture(params=["memory", "redis"])
async def sink_case(request: pytest.FixtureRequest, key_prefix: str) -> AsyncIterator[SinkCase]:
    registry = CollectorRegistry()
    metrics = UsageMetrics(registry)
    if request.param == "memory":
        memory = MemoryUsageSink(metrics, max_events=BUFFER)

        async def drained() -> list[UsageEvent]:
            return memory.drain()

        yield SinkCase(memory, registry, drained)
        await memory.aclose()
        return
    url: str = request.getfixturevalue("redis_available")  # sync: skips, and cleans up after
    client = aioredis.Redis.from_url(url)
    stream = usage_stream(key_prefix)
    sink = RedisUsageSink(client, metrics, StreamSettings(stream, buffer_size=BUFFER, batch_size=4))

    async def written() -> list[UsageEvent]:
        await sink.flush(timeout=10)
        return await read_stream(client, stream)

    yield SinkCase(sink, registry, written)
    await sink.aclose()
    await client.aclose()


async def test_emitted_events_are_delivered_whole_in_order(sink_case: SinkCase) -> None:
    events = [EVENT, *(event(n) for n in range(5))]
    for item in events:
        sink_case.sink.emit(item)

    assert await sink_case.delivered() == events
    assert sample(sink_case.registry, "router_usage_events_emitted_total") == len(events)


async def test_when_the_buffer_is_full_the_oldest_events_are_dropped_and_counted(
    sink_case: SinkCase,
) -> None:
    for number in range(BUFFER + 5):  # no await in between: nothing is delivered meanwhile
        sink_case.sink.emit(event(number))

    assert await sink_case.delivered() == [event(n) for n in range(5, BUFFER + 5)]
    assert dropped(sink_case.registry, "overflow") == 5


async def test_an_event_emitted_after_close_is_dropped_and_counted(sink_case: SinkCase) -> None:
    sink_case.sink.emit(event(1))
    await sink_case.sink.aclose()

    sink_case.sink.emit(event(2))

    assert await sink_case.delivered() == [event(1)]
    assert dropped(sink_case.registry, "closed") == 1


async def test_events_emitted_after_a_flush_are_delivered_too(sink_case: SinkCase) -> None:
    sink_case.sink.emit(event(1))
    await sink_case.sink.flush(timeout=10)
    await asyncio.sleep(0)  # the writer, if any, goes idle
    sink_case.sink.emit(event(2))

    assert await sink_case.delivered() == [event(1), event(2)]


async def test_flushing_an_idle_sink_returns_at_once(sink_case: SinkCase) -> None:
    await sink_case.sink.flush(timeout=10)

    assert await sink_case.delivered() == []


# The memory sink's consumer side.


@pytest.fixture
def memory_sink() -> MemoryUsageSink:
    return MemoryUsageSink(UsageMetrics(CollectorRegistry()))


async def test_an_in_process_consumer_waits_for_the_next_event(
    memory_sink: MemoryUsageSink,
) -> None:
    taken = asyncio.create_task(memory_sink.get())
    await asyncio.sleep(0)
    assert not taken.done()

    memory_sink.emit(EVENT)

    assert await taken == EVENT
    assert len(memory_sink) == 0


async def test_a_subscription_ends_once_the_sink_is_closed_and_empty(
    memory_sink: MemoryUsageSink,
) -> None:
    received: list[UsageEvent] = []

    async def consume() -> None:
        async for item in memory_sink.subscribe():
            received.append(item)

    consumer = asyncio.create_task(consume())
    memory_sink.emit(event(1))
    await asyncio.sleep(0)
    memory_sink.emit(event(2))
    memory_sink.emit(event(3))
    await memory_sink.aclose()
    await consumer

    assert received == [event(1), event(2), event(3)]
    with pytest.raises(UsageSinkClosed):
        await memory_sink.get()


def test_a_memory_sink_needs_room_for_one_event() -> None:
    with pytest.raises(ValueError, match="max_events"):
        MemoryUsageSink(UsageMetrics(CollectorRegistry()), max_events=0)


# The Redis sink.


async def test_events_from_many_concurrent_emitters_arrive_exactly_once_in_order(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    """Two replicas' sinks, 50 emitting tasks, 1,000 events, written in batches meanwhile."""
    registry = CollectorRegistry()
    metrics = UsageMetrics(registry)
    stream = usage_stream(key_prefix)
    sinks = [
        RedisUsageSink(redis_client, metrics, StreamSettings(stream, batch_size=37))
        for _ in range(2)
    ]

    async def emitter(number: int) -> None:
        for sequence in range(20):
            sinks[number % 2].emit(event(sequence, emitter=number))
            await asyncio.sleep(0)

    await asyncio.gather(*(emitter(n) for n in range(50)))
    await asyncio.gather(*(sink.aclose() for sink in sinks))

    written = await read_stream(redis_client, stream)
    ids = [item.request_id for item in written]
    assert len(ids) == len(set(ids)) == 1000
    for number in range(50):
        mine = [i for i in ids if i.startswith(f"req-{number}-")]
        assert mine == [f"req-{number}-{sequence}" for sequence in range(20)]
    assert sample(registry, "router_usage_events_emitted_total") == 1000
    assert dropped(registry, "closed") == dropped(registry, "overflow") == 0


async def test_the_stream_is_capped_approximately(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    stream = usage_stream(key_prefix)
    settings = StreamSettings(stream, max_stream_length=100, batch_size=50)
    sink = RedisUsageSink(redis_client, UsageMetrics(CollectorRegistry()), settings)
    for number in range(1000):
        sink.emit(event(number))

    await sink.aclose()

    assert 100 <= await redis_client.xlen(stream) < 1000
    [(_, last)] = await redis_client.xrevrange(stream, count=1) or []
    assert UsageEvent.from_fields(last or {}) == event(999)


def client_of(url: str) -> aioredis.Redis:
    """A client that fails at once while the server is away (no retries inside redis-py)."""
    return aioredis.Redis.from_url(url, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))


async def wait_for(condition: Callable[[], bool]) -> None:
    """Let the writer run until `condition` holds (bounded: a broken writer fails the test)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.close()


async def test_an_outage_loses_nothing_while_the_buffer_has_room(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    client = client_of(private_redis.url)
    sink = RedisUsageSink(
        client,
        UsageMetrics(registry),
        StreamSettings(usage_stream("t:"), batch_size=16),
        backoff=Backoff(initial_seconds=0.005, max_seconds=0.02),
        rng=random.Random(1),
    )

    def failures() -> float:
        return sample(registry, "router_usage_write_failures_total")

    try:
        with caplog.at_level(logging.WARNING):
            for number in range(100):
                sink.emit(event(number))
            await wait_for(lambda: failures() >= 3)  # it is retrying against a dead port
            for number in range(100, 200):
                sink.emit(event(number))

        private_redis.start()
        await sink.flush(timeout=10)

        assert await read_stream(client, usage_stream("t:")) == [event(n) for n in range(200)]
        assert dropped(registry, "overflow") == 0
        assert len([r for r in caplog.records if "usage events not written" in r.message]) == 1
    finally:
        await sink.aclose()
        await client.aclose()


async def test_an_outage_longer_than_the_buffer_keeps_the_newest_events(
    private_redis: RedisServer,
) -> None:
    registry = CollectorRegistry()
    client = client_of(private_redis.url)
    sink = RedisUsageSink(
        client,
        UsageMetrics(registry),
        StreamSettings(usage_stream("t:"), buffer_size=50, batch_size=8),
        backoff=Backoff(initial_seconds=0.005, max_seconds=0.02),
        rng=random.Random(2),
    )
    try:
        sink.emit(event(0))
        await wait_for(lambda: sample(registry, "router_usage_write_failures_total") >= 1)
        for number in range(1, 80):
            sink.emit(event(number))

        private_redis.start()
        await sink.flush(timeout=10)

        assert await read_stream(client, usage_stream("t:")) == [event(n) for n in range(30, 80)]
        assert dropped(registry, "overflow") == 30
    finally:
        await sink.aclose()
        await client.aclose()


async def test_closing_while_redis_is_away_counts_the_unwritten_events_as_dropped(
    private_redis: RedisServer,
) -> None:
    registry = CollectorRegistry()
    client = client_of(private_redis.url)
    sink = RedisUsageSink(
        client,
        UsageMetrics(registry),
        backoff=Backoff(initial_seconds=0.005, max_seconds=0.02),
        rng=random.Random(3),
    )
    for number in range(7):
        sink.emit(event(number))

    await sink.aclose(timeout=0.05)
    await client.aclose()

    assert sink.pending == 0
    assert dropped(registry, "closed") == 7
    assert sample(registry, "router_usage_events_emitted_total") == 0


def test_emitting_before_any_event_loop_runs_buffers_the_event() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1)
    sink = RedisUsageSink(client, UsageMetrics(CollectorRegistry()))

    sink.emit(EVENT)

    assert sink.pending == 1


@pytest.fixture
async def silent_client() -> AsyncIterator[tuple[aioredis.Redis, list[asyncio.StreamWriter]]]:
    """A client of a server that accepts connections and never answers: a write hangs.
    With it, the connections the server accepted."""
    accepted: list[asyncio.StreamWriter] = []

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis(
        host="127.0.0.1", port=port, socket_timeout=30, retry=Retry(NoBackoff(), 0)
    )
    yield client, accepted
    await client.aclose()
    for writer in accepted:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_closing_during_a_hanging_write_counts_the_batch_as_dropped(
    silent_client: tuple[aioredis.Redis, list[asyncio.StreamWriter]],
) -> None:
    client, accepted = silent_client
    registry = CollectorRegistry()
    sink = RedisUsageSink(client, UsageMetrics(registry), StreamSettings("s", batch_size=3))
    for number in range(5):
        sink.emit(event(number))
    await wait_for(lambda: bool(accepted))  # the first batch of 3 is on its way, and hangs

    await sink.aclose(timeout=0.05)

    assert dropped(registry, "closed") == 5
    assert sample(registry, "router_usage_events_emitted_total") == 0


@pytest.mark.parametrize(
    ("failures", "low", "high"), [(1, 0.05, 0.1), (2, 0.1, 0.2), (5, 0.8, 1.6), (30, 5.0, 10.0)]
)
def test_the_backoff_doubles_with_jitter_up_to_its_cap(
    failures: int, low: float, high: float
) -> None:
    rng = random.Random(4)
    delays = [Backoff(0.1, 10.0).delay(failures, rng) for _ in range(50)]

    assert all(low <= delay <= high for delay in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    "settings", [{"buffer_size": 0}, {"batch_size": 0}, {"max_stream_length": 0}]
)
def test_stream_settings_need_room_for_one_event(settings: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StreamSettings("s", **settings)


def test_the_stream_is_named_after_the_key_prefix() -> None:
    assert usage_stream("switchboard:router:") == "switchboard:router:usage"
    assert StreamSettings().stream == "switchboard:router:usage"
