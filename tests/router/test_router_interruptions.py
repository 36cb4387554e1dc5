"""The router in process, against a fake OpenAI upstream over real HTTP, on calls that do not end
the usual way: the caller leaves early (also while the answer is being cached), or the upstream
puts the usage on its last content chunk. What the caller gets, what the usage event records,
and what the breaker is told (the probe case on the memory store and on Redis).

The router is assembled here rather than served, so a test can hold the cache's store open and
close a stream at the exact chunk it means to.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from services.router.breaker import (
    BreakerPolicy,
    BreakerSnapshot,
    BreakerState,
    BreakerStore,
    CircuitBreakers,
)
from services.router.catalogue import Catalogue, Deployment, ModelRoute
from services.router.chat import (
    CallContext,
    ChatRequest,
    Choice,
    Completion,
    Message,
    Sampling,
    Usage,
)
from services.router.deployment_stats import DeploymentStats
from services.router.fallback import FallbackChain
from services.router.faults import FaultInjector
from services.router.genai_telemetry import GenAiMetrics
from services.router.memory_breaker_store import MemoryBreakerStore
from services.router.memory_response_cache import MemoryResponseCache
from services.router.memory_usage_sink import MemoryUsageSink
from services.router.providers.registry import ProviderRegistry
from services.router.redis_breaker_store import RedisBreakerStore
from services.router.response_cache import CacheMetrics, CachePolicy, RouterCache
from services.router.retry import RetryPolicy
from services.router.router import RoutedChunk, Router
from services.router.secrets import EnvironmentSecrets
from services.router.usage_estimate import estimate_usage
from services.router.usage_events import UsageMetrics
from services.router.usage_recorder import UsageRecorder
from svckit.errors import Unavailable

from .conftest import Upstream

pytestmark = pytest.mark.slow

START = 1_736_164_800.0
POLICY = BreakerPolicy(consecutive_failures=1, open_seconds=15, probe_timeout_seconds=30)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class GatedCache:
    """A memory cache whose `put` waits while the gate is shut: a Redis SET that is slow."""

    def __init__(self) -> None:
        self._inner = MemoryResponseCache()
        self.storing = asyncio.Event()
        self._open = asyncio.Event()
        self._open.set()

    def shut(self) -> None:
        self._open.clear()

    async def get(self, key: str) -> Completion | None:
        return await self._inner.get(key)

    async def put(self, key: str, completion: Completion, ttl_seconds: float) -> None:
        self.storing.set()
        await self._open.wait()
        await self._inner.put(key, completion, ttl_seconds)


@dataclass
class Routing:
    router: Router
    breakers: CircuitBreakers
    usage: MemoryUsageSink
    cache: GatedCache
    clock: FakeClock
    registry: CollectorRegistry


@pytest.fixture
def breaker_store(request: pytest.FixtureRequest, key_prefix: str) -> BreakerStore:
    """Memory, unless a test asks for "redis" (indirect parametrization)."""
    if getattr(request, "param", "memory") == "memory":
        return MemoryBreakerStore()
    client: aioredis.Redis = request.getfixturevalue("redis_client")
    return RedisBreakerStore(client, key_prefix=key_prefix)


@pytest.fixture
async def routing(openai_upstream: Upstream, breaker_store: BreakerStore) -> AsyncIterator[Routing]:
    deployment = Deployment(
        name="primary",
        provider="openai",
        upstream_model="primary-model",
        base_url=openai_upstream.base_url,
        timeout_seconds=5,
        max_retries=0,
    )
    catalogue = Catalogue({"gpt": ModelRoute(name="gpt", deployments=(deployment,))})
    registry, clock, stats = CollectorRegistry(), FakeClock(START), DeploymentStats()
    cache = GatedCache()
    breakers = CircuitBreakers(breaker_store, POLICY, clock)
    metrics = GenAiMetrics(registry)
    chain = FallbackChain(
        breakers=breakers,
        retry=RetryPolicy(base_delay_seconds=0, max_delay_seconds=0),
        faults=FaultInjector(enabled=False),
        secrets=EnvironmentSecrets({}),
        stats=stats,
        metrics=metrics,
        rng=random.Random(1),
    )
    usage = MemoryUsageSink(UsageMetrics(registry))
    providers = ProviderRegistry(trust_env=False)
    router = Router(
        catalogue=lambda: catalogue,
        providers=providers,
        chain=chain,
        responses=RouterCache(cache, CachePolicy(), CacheMetrics(registry)),
        usage=UsageRecorder(usage),
        metrics=metrics,
        stats=stats,
    )
    try:
        yield Routing(router, breakers, usage, cache, clock, registry)
    finally:
        await providers.aclose()
        await usage.aclose()


def question(request_id: str, temperature: float | None = None) -> ChatRequest:
    return ChatRequest(
        model="gpt",
        messages=(Message("user", "What is a circuit breaker?"),),
        sampling=Sampling(temperature=temperature),
        context=CallContext(request_id=request_id),
    )


def opened(routing: Routing, request: ChatRequest) -> AsyncGenerator[RoutedChunk, None]:
    stream = routing.router.stream(request)
    assert isinstance(stream, AsyncGenerator)
    return stream


async def read_until_finished(stream: AsyncIterator[RoutedChunk]) -> list[RoutedChunk]:
    """Chunks up to the one with a finish reason: a caller that has its answer and leaves."""
    chunks = []
    async for routed in stream:
        chunks.append(routed)
        if any(delta.finish_reason for delta in routed.chunk.choices):
            return chunks
    raise AssertionError("the stream ended without a finish reason")


def text(chunks: list[RoutedChunk]) -> str:
    return "".join(delta.delta.content for c in chunks for delta in c.chunk.choices)


def estimate(request: ChatRequest, answered: str) -> Usage:
    completion = Completion("", (Choice(0, Message("assistant", answered)),), Usage())
    return estimate_usage(request, completion)


def tokens(usage: Usage) -> tuple[int, int]:
    return usage.input_tokens, usage.output_tokens


async def answered_usage(routing: Routing) -> Usage:
    """The upstream's usage for `question`, from an uncached unary call (its event dropped)."""
    whole = await routing.router.complete(question("unary"))
    routing.usage.drain()
    return whole.completion.usage


async def test_a_chunk_carrying_content_and_usage_reaches_the_caller_and_usage_comes_last(
    routing: Routing, openai_upstream: Upstream
) -> None:
    openai_upstream.control.usage_on_last_chunk = True
    whole = await routing.router.complete(question("unary"))
    chunks = [routed async for routed in routing.router.stream(question("streamed"))]
    events = routing.usage.drain()
    assert text(chunks) == whole.completion.choices[0].message.content
    finishes = [d.finish_reason for c in chunks for d in c.chunk.choices if d.finish_reason]
    assert finishes == ["stop"]
    assert [c.chunk.usage for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].chunk.usage == whole.completion.usage
    assert chunks[-1].served is not None
    (streamed,) = [e for e in events if e.streamed]
    assert (streamed.outcome, streamed.input_tokens, streamed.output_tokens) == (
        "success",
        *tokens(whole.completion.usage),
    )


async def test_a_caller_leaving_after_the_usage_came_is_charged_the_upstreams_usage(
    routing: Routing, openai_upstream: Upstream
) -> None:
    openai_upstream.control.usage_on_last_chunk = True
    expected = await answered_usage(routing)
    stream = opened(routing, question("req-1"))
    await read_until_finished(stream)
    await stream.aclose()
    (event,) = routing.usage.drain()
    assert (event.request_id, event.outcome) == ("req-1", "cancelled")
    assert (event.input_tokens, event.output_tokens) == tokens(expected)


async def test_a_caller_leaving_before_the_usage_chunk_is_charged_an_estimate(
    routing: Routing,
) -> None:
    request = question("req-1")
    stream = opened(routing, request)
    chunks = await read_until_finished(stream)
    await stream.aclose()
    (event,) = routing.usage.drain()
    expected = estimate(request, text(chunks))
    assert expected.input_tokens > 0
    assert expected.output_tokens > 0
    assert (event.outcome, event.input_tokens, event.output_tokens) == (
        "cancelled",
        *tokens(expected),
    )
    labels = {"gen_ai_request_model": "gpt"}
    assert routing.registry.get_sample_value("router_usage_estimated_total", labels) == 1


async def test_a_stream_cancelled_while_the_upstream_stalls_is_charged_an_estimate(
    routing: Routing, openai_upstream: Upstream
) -> None:
    openai_upstream.control.hold_stream_after = 2
    request = question("req-1")
    chunks: list[RoutedChunk] = []
    stalled = asyncio.Event()

    async def read() -> None:
        async for routed in routing.router.stream(request):
            chunks.append(routed)
            if len(chunks) == 2:
                stalled.set()  # the next read waits on the held upstream

    task = asyncio.create_task(read())
    await stalled.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await openai_upstream.control.wait_for_disconnects(1)
    (event,) = routing.usage.drain()
    assert event.outcome == "cancelled"
    assert (event.input_tokens, event.output_tokens) == tokens(estimate(request, text(chunks)))
    assert event.input_tokens > 0


@pytest.mark.parametrize("breaker_store", ["memory", "redis"], indirect=True)
async def test_a_probe_stream_its_caller_leaves_neither_closes_nor_reopens_the_breaker(
    routing: Routing, openai_upstream: Upstream
) -> None:
    openai_upstream.control.fail_next(1, 503)
    with pytest.raises(Unavailable):
        await routing.router.complete(question("failing"))
    assert (await routing.breakers.snapshot("primary")).state is BreakerState.OPEN
    routing.clock.now += POLICY.open_seconds
    stream = opened(routing, question("probe"))
    await anext(stream)
    await stream.aclose()
    assert await routing.breakers.snapshot("primary") == BreakerSnapshot(BreakerState.HALF_OPEN)
    await routing.router.complete(question("next-probe"))
    assert (await routing.breakers.snapshot("primary")).state is BreakerState.CLOSED


async def test_a_completion_cancelled_while_its_answer_is_cached_still_records_its_usage(
    routing: Routing,
) -> None:
    expected = await answered_usage(routing)
    routing.cache.shut()
    task = asyncio.create_task(routing.router.complete(question("req-1", temperature=0)))
    await routing.cache.storing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (event,) = routing.usage.drain()
    assert (event.request_id, event.outcome) == ("req-1", "success")
    assert (event.input_tokens, event.output_tokens) == tokens(expected)


async def test_a_stream_cancelled_while_its_answer_is_cached_records_one_event(
    routing: Routing,
) -> None:
    expected = await answered_usage(routing)
    routing.cache.shut()

    async def read() -> None:
        async for _ in routing.router.stream(question("req-1", temperature=0)):
            pass

    task = asyncio.create_task(read())
    await routing.cache.storing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (event,) = routing.usage.drain()
    assert (event.request_id, event.outcome, event.streamed) == ("req-1", "success", True)
    assert (event.input_tokens, event.output_tokens) == tokens(expected)
