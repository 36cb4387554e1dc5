"""The fallback chain on its own: spans in the GenAI conventions, timeouts it enforces, and a
cancelled call that does not count against the deployment."""

from __future__ import annotations

import asyncio
import random

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from services.router.breaker import BreakerPolicy, BreakerSnapshot, BreakerState, CircuitBreakers
from services.router.catalogue import Deployment
from services.router.chat import ChatRequest, Choice, Completion, Message, Usage
from services.router.deployment_stats import DeploymentStats
from services.router.fallback import AllDeploymentsFailed, FallbackChain
from services.router.faults import FaultInjector
from services.router.genai_telemetry import GenAiMetrics
from services.router.memory_breaker_store import MemoryBreakerStore
from services.router.providers.base import ProviderError, UpstreamCall
from services.router.retry import RetryPolicy
from services.router.secrets import EnvironmentSecrets

REQUEST = ChatRequest(model="gpt", messages=(Message("user", "hi"),))
ANSWER = Completion("c1", (Choice(0, Message("assistant", "hello")),), Usage(3, 2), "up-1")


def deployment(name: str, timeout: float = 5, retries: int = 0) -> Deployment:
    return Deployment(
        name=name,
        provider="openai",
        upstream_model=f"{name}-model",
        base_url="http://unused",
        timeout_seconds=timeout,
        max_retries=retries,
    )


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def make_chain(policy: BreakerPolicy, spans: InMemorySpanExporter) -> FallbackChain:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return FallbackChain(
        breakers=CircuitBreakers(MemoryBreakerStore(), policy),
        retry=RetryPolicy(base_delay_seconds=0, max_delay_seconds=0),
        faults=FaultInjector(enabled=True),
        secrets=EnvironmentSecrets({}),
        stats=DeploymentStats(),
        metrics=GenAiMetrics(CollectorRegistry()),
        rng=random.Random(1),
        tracer=provider.get_tracer("test"),
    )


@pytest.fixture
def chain(spans: InMemorySpanExporter) -> FallbackChain:
    return make_chain(BreakerPolicy(consecutive_failures=1), spans)


async def fail(call: UpstreamCall) -> Completion:
    raise ProviderError("down", retryable=True, status=503, reason="UPSTREAM_ERROR")


async def failed_call(chain: FallbackChain, name: str) -> None:
    with pytest.raises(AllDeploymentsFailed):
        await chain.run(REQUEST, [deployment(name)], fail)


async def cancelled_call(chain: FallbackChain, name: str) -> None:
    """A call the caller gives up on while the deployment has not answered."""
    started = asyncio.Event()

    async def hang(call: UpstreamCall) -> Completion:
        started.set()
        await asyncio.Event().wait()
        return ANSWER

    task = asyncio.create_task(chain.run(REQUEST, [deployment(name)], hang))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_each_attempt_is_a_client_span_with_the_genai_attributes(
    chain: FallbackChain, spans: InMemorySpanExporter
) -> None:
    async def attempt(call: UpstreamCall) -> Completion:
        if call.deployment.name == "first":
            raise ProviderError("down", retryable=True, status=503, reason="UPSTREAM_ERROR")
        return ANSWER

    attempted = await chain.run(REQUEST, [deployment("first"), deployment("second")], attempt)
    assert (attempted.deployment.name, attempted.attempts, attempted.fallback) == (
        "second",
        2,
        True,
    )
    failed, answered = spans.get_finished_spans()
    assert failed.name == "chat first-model"
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "UPSTREAM_ERROR"
    assert answered.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "second-model",
        "switchboard.deployment": "second",
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 2,
        "gen_ai.response.model": "up-1",
    }


async def test_an_attempt_past_its_deployments_timeout_is_a_retryable_timeout(
    chain: FallbackChain,
) -> None:
    async def hang(call: UpstreamCall) -> Completion:
        await asyncio.sleep(10)
        return ANSWER

    with pytest.raises(AllDeploymentsFailed) as caught:
        await chain.run(REQUEST, [deployment("slow", timeout=0.01)], hang)
    (failure,) = caught.value.failures
    assert failure.reason == "UPSTREAM_TIMEOUT"
    assert not caught.value.rejected


async def test_a_cancelled_attempt_does_not_count_against_the_deployment(
    chain: FallbackChain,
) -> None:
    started = asyncio.Event()

    async def wait(call: UpstreamCall) -> Completion:
        started.set()
        await asyncio.sleep(10)
        return ANSWER

    task = asyncio.create_task(chain.run(REQUEST, [deployment("d")], wait))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await chain.breakers.snapshot("d")).state is BreakerState.CLOSED


async def test_a_cancelled_attempt_does_not_break_a_failure_streak(
    spans: InMemorySpanExporter,
) -> None:
    chain = make_chain(BreakerPolicy(consecutive_failures=2), spans)
    await failed_call(chain, "d")
    await cancelled_call(chain, "d")
    await failed_call(chain, "d")
    assert (await chain.breakers.snapshot("d")).state is BreakerState.OPEN


async def test_a_cancelled_probe_frees_its_slot_without_closing_the_breaker(
    spans: InMemorySpanExporter,
) -> None:
    """A deployment that hangs until the caller gives up is not healthy; nor is it proven down."""
    chain = make_chain(BreakerPolicy(consecutive_failures=1, open_seconds=0), spans)
    await failed_call(chain, "d")
    assert (await chain.breakers.snapshot("d")).state is BreakerState.OPEN
    await cancelled_call(chain, "d")
    assert await chain.breakers.snapshot("d") == BreakerSnapshot(BreakerState.HALF_OPEN, None)
