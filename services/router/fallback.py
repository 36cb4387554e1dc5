"""The fallback chain: try a model's deployments in the planned order, each with retries.

For each deployment, best first:
- skip it when its circuit is open (`CircuitBreakers.acquire` gives no permit);
- call it; on a retryable failure (connection error, timeout, 429, 5xx) wait the backoff (at least
  the upstream's Retry-After) and call it again, up to its `max_retries`, asking the breaker for
  a permit before each attempt; a Retry-After longer than the policy's cap moves on at once;
- on a failure that is not retryable move on: a rejected request (400) is not the deployment's
  fault and does not count against its circuit; an auth failure (401/403) does.
When every deployment failed or was skipped, `AllDeploymentsFailed` lists why, per deployment.

The chain is generic over what one attempt returns, so the unary call and the opening of a
stream (up to its first chunk) share it. A successful attempt's permit goes back to the caller,
which reports success once the answer is complete: a stream that breaks later still counts as a
failure of its deployment. A cancelled attempt reports nothing: its permit is released.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from opentelemetry.trace import Span, Tracer

from services.router.breaker import CircuitBreakers, Permit
from services.router.catalogue import Deployment
from services.router.chat import ChatRequest, Completion
from services.router.deployment_stats import DeploymentStats
from services.router.faults import FaultInjector
from services.router.genai_telemetry import (
    ROUTER_TRACER,
    GenAiMetrics,
    attempt_span,
    record_error_on_span,
    record_usage_on_span,
)
from services.router.providers.base import ProviderError, UpstreamCall
from services.router.retry import RetryPolicy
from services.router.secrets import SecretSource

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
Attempt = Callable[[UpstreamCall], Awaitable[T]]

NOT_COUNTED = frozenset({"UPSTREAM_REJECTED"})
"""Failures that say nothing about the deployment's health: the request itself was refused."""


@dataclass(frozen=True, slots=True)
class Failure:
    deployment: str
    reason: str
    message: str


class AllDeploymentsFailed(Exception):
    def __init__(self, model: str, failures: list[Failure]) -> None:
        summary = "; ".join(f"{f.deployment}: {f.message}" for f in failures)
        super().__init__(f"every deployment of {model} failed: {summary}")
        self.model = model
        self.failures = failures

    @property
    def rejected(self) -> bool:
        """Every deployment refused the request itself (none was merely down)."""
        return all(f.reason == "UPSTREAM_REJECTED" for f in self.failures)


@dataclass(slots=True)
class Attempted(Generic[T]):
    value: T
    deployment: Deployment
    permit: Permit
    attempts: int
    fallback: bool
    """Answered by a deployment other than the first planned."""


@dataclass
class FallbackChain:
    breakers: CircuitBreakers
    retry: RetryPolicy
    faults: FaultInjector
    secrets: SecretSource
    stats: DeploymentStats
    metrics: GenAiMetrics
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.perf_counter
    tracer: Tracer = ROUTER_TRACER

    async def run(
        self, request: ChatRequest, plan: list[Deployment], attempt: Attempt[T]
    ) -> Attempted[T]:
        failures: list[Failure] = []
        attempts = 0
        for position, deployment in enumerate(plan):
            outcome = await self._try_deployment(request, deployment, attempt, failures)
            attempts += outcome[1]
            if outcome[0] is not None:
                value, permit = outcome[0]
                return Attempted(value, deployment, permit, attempts, fallback=position > 0)
        raise AllDeploymentsFailed(request.model, failures)

    async def _try_deployment(
        self,
        request: ChatRequest,
        deployment: Deployment,
        attempt: Attempt[T],
        failures: list[Failure],
    ) -> tuple[tuple[T, Permit] | None, int]:
        """(value and permit, or None when the deployment failed; attempts made)."""
        made = 0
        while True:
            permit = await self.breakers.acquire(deployment.name)
            if permit is None:
                self.metrics.skipped.labels(deployment.name).inc()
                failures.append(Failure(deployment.name, "CIRCUIT_OPEN", "circuit open"))
                return None, made
            made += 1
            try:
                value = await self._attempt_once(request, deployment, attempt)
            except ProviderError as error:
                await self.breakers.record(permit, success=error.reason in NOT_COUNTED)
                delay = self._retry_delay(error, deployment, made)
                if delay is None:
                    failures.append(Failure(deployment.name, error.reason, str(error)))
                    return None, made
                await self.sleep(delay)
                continue
            except BaseException:
                # Cancelled (the caller went away) or a bug: no verdict on the deployment, so a
                # hung one cannot pass for healthy; shielded so a probe slot is freed regardless.
                await asyncio.shield(self.breakers.release(permit))
                raise
            return (value, permit), made

    def _retry_delay(self, error: ProviderError, deployment: Deployment, made: int) -> float | None:
        if not error.retryable or made > deployment.max_retries:
            return None
        return self.retry.delay(made, error.retry_after_seconds, self.rng)

    async def _attempt_once(
        self, request: ChatRequest, deployment: Deployment, attempt: Attempt[T]
    ) -> T:
        key = self.secrets.get(deployment.api_key_secret) if deployment.api_key_secret else None
        call = UpstreamCall(request, deployment, key, deployment.timeout_seconds)
        started = self.clock()
        with (
            attempt_span(request, deployment, self.tracer) as span,
            self.stats.calling(deployment.name),
        ):
            try:
                async with asyncio.timeout(deployment.timeout_seconds):
                    await self.faults.before_call(deployment, deployment.timeout_seconds)
                    value = await attempt(call)
            except TimeoutError:
                error = ProviderError(
                    f"deployment {deployment.name}: no answer within "
                    f"{deployment.timeout_seconds:g} s",
                    retryable=True,
                    reason="UPSTREAM_TIMEOUT",
                )
                self._failed(request, deployment, started, span, error)
                raise error from None
            except ProviderError as error:
                self._failed(request, deployment, started, span, error)
                raise
            if isinstance(value, Completion):  # a stream's usage is only known at its end
                record_usage_on_span(span, value.usage, value.upstream_model)
        elapsed = self.clock() - started
        self.metrics.attempt(request.model, deployment, elapsed, "success")
        # For a stream this is the time to its first chunk: what a latency-aware choice wants.
        self.stats.observe_latency(deployment.name, elapsed)
        return value

    def _failed(
        self,
        request: ChatRequest,
        deployment: Deployment,
        started: float,
        span: Span,
        error: ProviderError,
    ) -> None:
        self.metrics.attempt(
            request.model, deployment, self.clock() - started, error.reason.lower()
        )
        record_error_on_span(span, error.reason)
