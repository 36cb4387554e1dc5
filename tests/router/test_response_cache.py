"""The response cache: one behavioural suite over the memory LRU and Redis, the codec, the
policy, the router-facing `RouterCache` with its counters, and the replay of a hit as a stream.

`backend` is parametrized: each test using it runs on `MemoryResponseCache` and on
`RedisResponseCache` (the shared Redis, under the test's key prefix). `age(seconds)` lets time
pass for the backend: it advances the memory cache's clock, and shortens every Redis TTL under
the prefix by as much (deleting what that expires), since Redis' own clock cannot be injected.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.router.cache_codec import (
    CODEC_VERSION,
    UndecodableValue,
    decode_completion,
    encode_completion,
)
from services.router.chat import (
    CacheControl,
    CallContext,
    ChatRequest,
    Choice,
    ChoiceDelta,
    Completion,
    FunctionCall,
    Message,
    Sampling,
    StreamChunk,
    ToolCall,
    Usage,
)
from services.router.memory_response_cache import MemoryResponseCache
from services.router.redis_response_cache import RedisResponseCache
from services.router.response_cache import (
    CacheMetrics,
    CachePolicy,
    ResponseCache,
    RouterCache,
    content_pieces,
    replay_as_stream,
)
from services.router.stream_assembly import assemble_stream

Age = Callable[[float], Awaitable[None]]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


ANSWER = Completion(
    id="chatcmpl-1",
    choices=(Choice(0, Message(role="assistant", content="It is 3 °C in Oslo.")),),
    usage=Usage(input_tokens=42, output_tokens=9, cached_tokens=16, cache_write_tokens=7),
    upstream_model="gpt-4o-2024-08-06",
)

TOOL_ANSWER = Completion(
    id="chatcmpl-2",
    choices=(
        Choice(
            0,
            Message(
                role="assistant",
                content="Checking both.",
                tool_calls=(
                    ToolCall("call_a", FunctionCall("weather", '{"city": "Oslo"}'), index=0),
                    ToolCall("call_b", FunctionCall("weather", '{"city": "Rome"}'), index=1),
                ),
            ),
            finish_reason="tool_calls",
        ),
    ),
    usage=Usage(input_tokens=80, output_tokens=30),
    upstream_model="claude-sonnet",
)

TWO_CHOICES = Completion(
    id="chatcmpl-3",
    choices=(
        Choice(
            0, Message(role="assistant", content="First  answer,\n\twith  odd   spacing. "), "stop"
        ),
        Choice(1, Message(role="assistant", content="", name="bot"), "length"),
    ),
    usage=Usage(1, 2, 0),
)

REQUEST = ChatRequest(
    model="gpt-4o",
    messages=(Message(role="user", content="Weather in Oslo?"),),
    sampling=Sampling(temperature=0),
    context=CallContext(request_id="r1", tenant="acme"),
)


def request_with(
    *, temperature: float | None = 0, tenant: str = "acme", **cache: Any
) -> ChatRequest:
    return dataclasses.replace(
        REQUEST,
        sampling=Sampling(temperature=temperature),
        cache=CacheControl(**cache),
        context=CallContext(tenant=tenant),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> CacheMetrics:
    return CacheMetrics(registry)


@pytest.fixture(params=["memory", "redis"])
def backend_and_age(
    request: pytest.FixtureRequest, clock: FakeClock, metrics: CacheMetrics, key_prefix: str
) -> tuple[ResponseCache, Age]:
    if request.param == "memory":

        async def advance(seconds: float) -> None:
            clock.now += seconds

        return MemoryResponseCache(max_entries=100, clock=clock), advance
    client: aioredis.Redis = request.getfixturevalue("redis_client")

    async def shorten_ttls(seconds: float) -> None:
        async for key in client.scan_iter(match=f"{key_prefix}*", count=10_000):
            left = await client.pttl(key) - round(seconds * 1000)
            await (client.pexpire(key, left) if left > 0 else client.delete(key))

    return RedisResponseCache(client, metrics, key_prefix=key_prefix), shorten_ttls


@pytest.fixture
def backend(backend_and_age: tuple[ResponseCache, Age]) -> ResponseCache:
    return backend_and_age[0]


@pytest.fixture
def age(backend_and_age: tuple[ResponseCache, Age]) -> Age:
    return backend_and_age[1]


@pytest.fixture
def router_cache(backend: ResponseCache, metrics: CacheMetrics) -> RouterCache:
    return RouterCache(backend, CachePolicy(), metrics)


def requests_counted(registry: CollectorRegistry, result: str) -> float:
    return registry.get_sample_value("router_cache_requests_total", {"result": result}) or 0.0


def errors_counted(registry: CollectorRegistry, operation: str) -> float:
    return registry.get_sample_value("router_cache_errors_total", {"operation": operation}) or 0.0


# The backends: one suite, both implementations.


async def test_an_unknown_key_is_a_miss(backend: ResponseCache) -> None:
    assert await backend.get("nothing-here") is None


@pytest.mark.parametrize("completion", [ANSWER, TOOL_ANSWER, TWO_CHOICES], ids=lambda c: c.id)
async def test_a_stored_completion_comes_back_whole(
    backend: ResponseCache, completion: Completion
) -> None:
    await backend.put("k", completion, 60)

    assert await backend.get("k") == completion


async def test_a_second_put_replaces_the_entry(backend: ResponseCache) -> None:
    await backend.put("k", ANSWER, 60)
    await backend.put("k", TOOL_ANSWER, 60)

    assert await backend.get("k") == TOOL_ANSWER


async def test_keys_are_independent(backend: ResponseCache) -> None:
    await backend.put("a", ANSWER, 60)
    await backend.put("b", TOOL_ANSWER, 60)

    assert (await backend.get("a"), await backend.get("b")) == (ANSWER, TOOL_ANSWER)


async def test_an_entry_lives_until_its_ttl_ends(backend: ResponseCache, age: Age) -> None:
    await backend.put("k", ANSWER, 100)

    await age(99)
    assert await backend.get("k") == ANSWER
    await age(2)
    assert await backend.get("k") is None


async def test_a_fractional_ttl_is_accepted(backend: ResponseCache, age: Age) -> None:
    await backend.put("k", ANSWER, 2.5)

    await age(1.5)
    assert await backend.get("k") == ANSWER
    await age(1.5)
    assert await backend.get("k") is None


@pytest.mark.parametrize("ttl", [0, -5])
async def test_a_ttl_of_zero_or_less_stores_nothing(backend: ResponseCache, ttl: float) -> None:
    await backend.put("k", ANSWER, ttl)

    assert await backend.get("k") is None


# The memory LRU.


async def test_the_memory_cache_evicts_the_least_recently_used_entry(clock: FakeClock) -> None:
    cache = MemoryResponseCache(max_entries=2, clock=clock)
    await cache.put("a", ANSWER, 60)
    await cache.put("b", ANSWER, 60)
    await cache.get("a")  # now b is the least recently used

    await cache.put("c", ANSWER, 60)

    assert await cache.get("b") is None
    assert await cache.get("a") == ANSWER
    assert await cache.get("c") == ANSWER
    assert len(cache) == 2


async def test_an_expired_memory_entry_frees_its_slot_when_read(clock: FakeClock) -> None:
    cache = MemoryResponseCache(max_entries=5, clock=clock)
    await cache.put("a", ANSWER, 10)
    clock.now += 10

    assert await cache.get("a") is None
    assert len(cache) == 0


def test_a_memory_cache_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryResponseCache(max_entries=0)


# Redis specifics.


@pytest.fixture
def redis_cache(
    redis_client: aioredis.Redis, metrics: CacheMetrics, key_prefix: str
) -> RedisResponseCache:
    return RedisResponseCache(redis_client, metrics, key_prefix=key_prefix)


async def test_redis_keeps_an_entry_under_the_prefix_with_whole_seconds_as_ex(
    redis_cache: RedisResponseCache, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    await redis_cache.put("abc", ANSWER, 3600)

    assert redis_cache.redis_key("abc") == f"{key_prefix}cache:abc"
    assert await redis_client.ttl(f"{key_prefix}cache:abc") == 3600
    stored = await redis_client.get(f"{key_prefix}cache:abc")
    assert stored is not None
    assert json.loads(stored)["v"] == CODEC_VERSION


async def test_redis_writes_a_fractional_ttl_in_milliseconds(
    redis_cache: RedisResponseCache, redis_client: aioredis.Redis, key_prefix: str
) -> None:
    await redis_cache.put("abc", ANSWER, 1.5)

    assert 1000 < await redis_client.pttl(f"{key_prefix}cache:abc") <= 1500


@pytest.mark.parametrize(
    "value",
    [b"not json", b'{"v": 0, "id": "x"}', b"\xff\xfe", b"[]"],
    ids=["garbage", "old_version", "not_utf8", "not_an_object"],
)
async def test_a_redis_value_that_does_not_decode_is_a_miss(
    redis_cache: RedisResponseCache, redis_client: aioredis.Redis, key_prefix: str, value: bytes
) -> None:
    await redis_client.set(f"{key_prefix}cache:abc", value)

    assert await redis_cache.get("abc") is None


@pytest.fixture
async def unreachable_client() -> AsyncIterator[aioredis.Redis]:
    """A client of a port nobody listens on, failing at once (no retries)."""
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    yield client
    await client.aclose()


async def test_an_unreachable_redis_is_a_miss_and_a_skipped_store_counted_and_warned_once(
    unreachable_client: aioredis.Redis,
    metrics: CacheMetrics,
    registry: CollectorRegistry,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = RedisResponseCache(unreachable_client, metrics, warn_interval_seconds=60, clock=clock)

    with caplog.at_level(logging.WARNING):
        assert await cache.get("k") is None
        await cache.put("k", ANSWER, 60)
        await cache.put("k", ANSWER, 60)

    assert errors_counted(registry, "get") == 1
    assert errors_counted(registry, "put") == 2
    assert len(caplog.records) == 1
    clock.now += 60
    with caplog.at_level(logging.WARNING):
        await cache.get("k")
    assert len(caplog.records) == 2


# The codec.


@pytest.mark.parametrize("completion", [ANSWER, TOOL_ANSWER, TWO_CHOICES], ids=lambda c: c.id)
def test_the_codec_round_trips_every_field(completion: Completion) -> None:
    assert decode_completion(encode_completion(completion)) == completion


def test_an_entry_stored_before_cache_writes_were_counted_reads_as_none() -> None:
    document = json.loads(encode_completion(ANSWER))
    del document["usage"]["cache_write_tokens"]
    decoded = decode_completion(json.dumps(document).encode())
    assert decoded.usage.cache_write_tokens == 0
    assert decoded.usage.input_tokens == ANSWER.usage.input_tokens


def broken(change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(encode_completion(TOOL_ANSWER))
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b'"text"', id="not_an_object"),
        pytest.param(broken(lambda d: d.update(v=CODEC_VERSION + 1)), id="newer_version"),
        pytest.param(broken(lambda d: d.pop("usage")), id="missing_field"),
        pytest.param(broken(lambda d: d["usage"].update(input_tokens="80")), id="string_as_int"),
        pytest.param(broken(lambda d: d["usage"].update(input_tokens=True)), id="bool_as_int"),
        pytest.param(broken(lambda d: d.update(choices=[1])), id="choice_not_object"),
        pytest.param(
            broken(lambda d: d["choices"][0]["message"].update(tool_calls=["x"])),
            id="tool_call_not_object",
        ),
        pytest.param(
            broken(lambda d: d["choices"][0]["message"]["tool_calls"][0].pop("arguments")),
            id="tool_call_without_arguments",
        ),
    ],
)
def test_the_codec_refuses_what_it_did_not_write(data: bytes) -> None:
    with pytest.raises(UndecodableValue):
        decode_completion(data)


# The policy.


@pytest.mark.parametrize(
    ("request_", "lookup", "store"),
    [
        pytest.param(request_with(temperature=0), True, True, id="temperature_0"),
        pytest.param(request_with(temperature=0.0), True, True, id="temperature_0.0"),
        pytest.param(request_with(temperature=None), False, False, id="temperature_unset"),
        pytest.param(request_with(temperature=0.7), False, False, id="temperature_0.7"),
        pytest.param(
            request_with(temperature=0.7, allow_nondeterministic=True), True, True, id="opted_in"
        ),
        pytest.param(
            request_with(temperature=None, allow_nondeterministic=True),
            True,
            True,
            id="opted_in_unset",
        ),
        pytest.param(request_with(no_cache=True), False, True, id="no_cache"),
        pytest.param(request_with(no_store=True), True, False, id="no_store"),
        pytest.param(request_with(no_cache=True, no_store=True), False, False, id="neither"),
        pytest.param(request_with(ttl_seconds=0), True, False, id="ttl_0"),
    ],
)
def test_the_policy_caches_deterministic_requests_unless_the_caller_says_otherwise(
    request_: ChatRequest, lookup: bool, store: bool
) -> None:
    policy = CachePolicy()

    assert (policy.lookup_allowed(request_), policy.store_allowed(request_)) == (lookup, store)


@pytest.mark.parametrize(
    ("asked", "ttl"), [(None, 3600.0), (60.5, 60.5), (86400.0, 86400.0), (10**9, 86400.0)]
)
def test_the_ttl_is_the_callers_capped_or_else_the_default(asked: float | None, ttl: float) -> None:
    assert CachePolicy().ttl(request_with(ttl_seconds=asked)) == ttl


@pytest.mark.parametrize(
    ("reasons", "storable"),
    [
        (("stop",), True),
        (("length",), True),
        (("tool_calls",), True),
        (("stop", "length"), True),
        (("content_filter",), False),
        (("stop", "content_filter"), False),
        (("",), False),
        ((), False),
    ],
)
def test_only_answers_that_finished_normally_are_stored(
    reasons: tuple[str, ...], storable: bool
) -> None:
    completion = dataclasses.replace(
        ANSWER,
        choices=tuple(Choice(i, Message("assistant", "x"), r) for i, r in enumerate(reasons)),
    )

    assert CachePolicy().storable(completion) is storable


@pytest.mark.parametrize(("default", "maximum"), [(0, 10), (20, 10), (-1, 10)])
def test_a_policy_needs_a_positive_default_ttl_within_the_maximum(
    default: float, maximum: float
) -> None:
    with pytest.raises(ValueError, match="ttl"):
        CachePolicy(default_ttl_seconds=default, max_ttl_seconds=maximum)


# The router's cache, on both backends.


async def test_a_stored_answer_is_a_hit_for_the_same_request(
    router_cache: RouterCache, registry: CollectorRegistry
) -> None:
    assert await router_cache.lookup(REQUEST) is None
    assert await router_cache.store(REQUEST, ANSWER)

    assert await router_cache.lookup(REQUEST) == ANSWER
    assert requests_counted(registry, "miss") == 1
    assert requests_counted(registry, "hit") == 1


async def test_a_nondeterministic_request_is_skipped_and_not_stored(
    router_cache: RouterCache, registry: CollectorRegistry
) -> None:
    sampled = request_with(temperature=0.7)

    assert not await router_cache.store(sampled, ANSWER)
    assert await router_cache.lookup(sampled) is None
    assert requests_counted(registry, "skip") == 1
    assert (
        await router_cache.lookup(request_with(temperature=0.7, allow_nondeterministic=True))
        is None
    )
    assert requests_counted(registry, "miss") == 1


async def test_no_cache_skips_the_lookup_but_stores_the_fresh_answer(
    router_cache: RouterCache, registry: CollectorRegistry
) -> None:
    await router_cache.store(REQUEST, ANSWER)
    fresh = request_with(no_cache=True)

    assert await router_cache.lookup(fresh) is None
    assert await router_cache.store(fresh, TOOL_ANSWER)
    assert await router_cache.lookup(REQUEST) == TOOL_ANSWER
    assert requests_counted(registry, "skip") == 1


async def test_no_store_leaves_the_cache_alone(router_cache: RouterCache) -> None:
    assert not await router_cache.store(request_with(no_store=True), ANSWER)

    assert await router_cache.lookup(REQUEST) is None


async def test_a_filtered_answer_is_never_stored(router_cache: RouterCache) -> None:
    filtered = dataclasses.replace(
        ANSWER, choices=(Choice(0, Message("assistant", ""), "content_filter"),)
    )

    assert not await router_cache.store(REQUEST, filtered)
    assert await router_cache.lookup(REQUEST) is None


async def test_the_callers_ttl_decides_how_long_the_answer_lives(
    router_cache: RouterCache, age: Age
) -> None:
    await router_cache.store(request_with(ttl_seconds=30), ANSWER)

    await age(29)
    assert await router_cache.lookup(REQUEST) == ANSWER
    await age(2)
    assert await router_cache.lookup(REQUEST) is None


async def test_one_tenant_never_gets_anothers_answer(router_cache: RouterCache) -> None:
    await router_cache.store(request_with(tenant="acme"), ANSWER)

    assert await router_cache.lookup(request_with(tenant="globex")) is None
    assert await router_cache.lookup(request_with(tenant="acme")) == ANSWER


async def test_a_shared_cache_answers_every_tenant(
    backend: ResponseCache, metrics: CacheMetrics
) -> None:
    cache = RouterCache(backend, CachePolicy(shared_across_tenants=True), metrics)
    await cache.store(request_with(tenant="acme"), ANSWER)

    assert cache.policy.shared_across_tenants
    assert await cache.lookup(request_with(tenant="globex")) == ANSWER


async def test_an_unreachable_redis_makes_every_lookup_a_miss(
    unreachable_client: aioredis.Redis, metrics: CacheMetrics, registry: CollectorRegistry
) -> None:
    cache = RouterCache(RedisResponseCache(unreachable_client, metrics), CachePolicy(), metrics)

    assert await cache.store(REQUEST, ANSWER)  # attempted; the backend swallowed the failure
    assert await cache.lookup(REQUEST) is None
    assert requests_counted(registry, "miss") == 1
    assert errors_counted(registry, "get") == errors_counted(registry, "put") == 1


class BrokenCache:
    """A backend with a bug: whatever it is asked, it raises."""

    async def get(self, key: str) -> Completion | None:
        raise RuntimeError("bug")

    async def put(self, key: str, completion: Completion, ttl_seconds: float) -> None:
        raise RuntimeError("bug")


async def test_even_a_broken_backend_never_fails_the_call(
    metrics: CacheMetrics, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    cache = RouterCache(BrokenCache(), CachePolicy(), metrics)

    with caplog.at_level(logging.ERROR):
        assert not await cache.store(REQUEST, ANSWER)
        assert await cache.lookup(REQUEST) is None

    assert requests_counted(registry, "miss") == 1
    assert errors_counted(registry, "get") == errors_counted(registry, "put") == 1
    assert len(caplog.records) == 2


# A hit for a streaming request, replayed as a stream.


@pytest.mark.parametrize("completion", [ANSWER, TOOL_ANSWER, TWO_CHOICES], ids=lambda c: c.id)
def test_a_replayed_stream_reassembles_into_the_completion(completion: Completion) -> None:
    assert assemble_stream(replay_as_stream(completion)) == completion


def test_a_replayed_stream_opens_with_the_role_and_ends_with_finish_and_usage() -> None:
    long_answer = dataclasses.replace(
        ANSWER, choices=(Choice(0, Message("assistant", "word " * 30), "length"),)
    )

    chunks = replay_as_stream(long_answer)

    assert chunks[0].choices == (ChoiceDelta(0, Message(role="assistant")),)
    assert chunks[-2].choices == (ChoiceDelta(0, Message(role=""), finish_reason="length"),)
    assert chunks[-1] == StreamChunk(
        id=ANSWER.id, usage=ANSWER.usage, upstream_model=ANSWER.upstream_model
    )
    content_chunks = chunks[1:-2]
    assert len(content_chunks) > 3
    assert all(c.usage is None and c.id == ANSWER.id for c in chunks[:-1])
    assert all(c.choices[0].delta.role == "" for c in content_chunks)


def test_replayed_tool_calls_come_after_the_content_one_per_chunk() -> None:
    chunks = replay_as_stream(TOOL_ANSWER)

    calls = [
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    ]
    assert calls == [(call,) for call in TOOL_ANSWER.choices[0].message.tool_calls]


@pytest.mark.parametrize(
    "content",
    ["", " ", "one", "a b c d e f g h i j k l m n o p q r s t u v w", "x" * 50 + " y\n\n"],
)
def test_content_pieces_join_to_the_content_and_break_between_words(content: str) -> None:
    pieces = content_pieces(content, size=10)

    assert "".join(pieces) == content
    assert all(len(piece) >= 10 for piece in pieces[:-1])
    assert all(not piece[0].isspace() for piece in pieces[1:])


def test_assembling_joins_tool_call_fragments_by_index_as_providers_stream_them() -> None:
    def delta(**fields: Any) -> StreamChunk:
        return StreamChunk(id="s1", choices=(ChoiceDelta(0, Message(role="", **fields)),))

    chunks = [
        StreamChunk(
            id="s1", choices=(ChoiceDelta(0, Message(role="assistant")),), upstream_model="m"
        ),
        delta(tool_calls=(ToolCall("call_a", FunctionCall("weather", '{"ci'), index=0),)),
        delta(tool_calls=(ToolCall("", FunctionCall("", 'ty": "Oslo"}'), index=0),)),
        delta(tool_calls=(ToolCall("call_b", FunctionCall("time", "{}"), index=1),)),
        StreamChunk(id="s1", choices=(ChoiceDelta(0, Message(role=""), "tool_calls"),)),
        StreamChunk(id="s1", usage=Usage(5, 6, 0)),
    ]

    assert assemble_stream(chunks) == Completion(
        id="s1",
        choices=(
            Choice(
                0,
                Message(
                    role="assistant",
                    tool_calls=(
                        ToolCall("call_a", FunctionCall("weather", '{"city": "Oslo"}'), index=0),
                        ToolCall("call_b", FunctionCall("time", "{}"), index=1),
                    ),
                ),
                "tool_calls",
            ),
        ),
        usage=Usage(5, 6, 0),
        upstream_model="m",
    )
