"""The router: one chat completion from request to answer, unary or streamed.

    request -> catalogue route -> response cache -> strategy plan -> fallback chain
            (breakers, retries, faults, provider) -> usage event -> breaker, cache store -> answer

The answer says who served it (`Served`). Every answered call, cache hits included, and every
stream that ended early emits one usage event keyed by the request id; emitting never blocks or
fails the answer.
The event goes out as soon as the upstream's answer is known, before any other await: the
provider has charged us by then, and a caller that leaves during a later Redis round trip must
not lose the record. A cache hit is recorded with the tokens of the cached answer and
`cache_hit` set: the cost service charges it nothing upstream.

Streams: the chain covers the opening of the stream up to its first chunk, so a deployment that
fails before answering is retried or replaced; once a chunk has gone to the caller nothing is
retried (the caller would see the answer twice) and a broken stream ends in UNAVAILABLE. Closing
the stream early (the caller cancelled) closes the upstream call, releases the breaker permit
without a verdict, and records what is known: the upstream's usage if it came, else an estimate.
Usage always goes out on a last chunk of the router's own; an upstream chunk that carries both
choices and usage is passed on without the usage.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from services.router.breaker import Permit
from services.router.catalogue import Catalogue, ModelRoute
from services.router.chat import ChatRequest, Completion, StreamChunk, Usage
from services.router.deployment_stats import DeploymentStats
from services.router.fallback import AllDeploymentsFailed, Attempt, Attempted, FallbackChain
from services.router.genai_telemetry import GenAiMetrics
from services.router.providers.base import ProviderError, UpstreamCall
from services.router.providers.registry import ProviderRegistry
from services.router.response_cache import RouterCache, replay_as_stream
from services.router.strategies import plan
from services.router.stream_assembly import StreamAssembler
from services.router.usage_estimate import estimate_usage
from services.router.usage_recorder import UsageRecorder
from svckit.errors import InvalidArgument, NotFound, Unavailable

T = TypeVar("T")
Upstream = AsyncGenerator[StreamChunk, None]


@dataclass(frozen=True, slots=True)
class Served:
    request_id: str
    deployment: str = ""
    provider: str = ""
    upstream_model: str = ""
    cache_hit: bool = False
    attempts: int = 0
    latency_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Routed:
    completion: Completion
    served: Served


@dataclass(frozen=True, slots=True)
class RoutedChunk:
    chunk: StreamChunk
    served: Served | None = None
    """Set on the last chunk only."""


class Router:
    def __init__(
        self,
        *,
        catalogue: Callable[[], Catalogue],
        providers: ProviderRegistry,
        chain: FallbackChain,
        responses: RouterCache,
        usage: UsageRecorder,
        metrics: GenAiMetrics,
        stats: DeploymentStats,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._catalogue = catalogue
        self._providers = providers
        self._chain = chain
        self._responses = responses
        self._usage = usage
        self._metrics = metrics
        self._stats = stats
        self._rng = rng or random.Random()
        self._clock = clock

    async def complete(self, request: ChatRequest) -> Routed:
        route, request = self._prepare(request)
        started = self._clock()
        cached = await self._responses.lookup(request)
        if cached is not None:
            return self._cache_hit(request, cached, started, streamed=False)
        attempted = await self._run_chain(request, route, self._complete_once)
        completion = attempted.value
        served = self._served(request, attempted, started)
        self._finished(request, completion, served, streamed=False)  # before any await
        await self._chain.breakers.record(attempted.permit, success=True)
        await self._responses.store(request, completion)
        return Routed(completion, served)

    async def stream(self, request: ChatRequest) -> AsyncIterator[RoutedChunk]:
        route, request = self._prepare(request)
        started = self._clock()
        cached = await self._responses.lookup(request)
        if cached is not None:
            async for routed in self._replay(request, cached, started):
                yield routed
            return
        attempted = await self._run_chain(request, route, self._open_stream)
        upstream, first = attempted.value
        self._metrics.first_token(
            request.model, attempted.deployment.provider, self._clock() - started
        )
        assembler = StreamAssembler()
        outcome = "cancelled"
        try:
            async with aclosing(upstream):
                chunk: StreamChunk | None = first
                while chunk is not None:
                    assembler.add(chunk)
                    if chunk.choices or chunk.usage is None:
                        yield RoutedChunk(_without_usage(chunk))
                    chunk = await anext(upstream, None)
                outcome = "success"
                # Before closing the upstream (an await): the event must not wait on anything.
                completion = self._stream_completion(request, assembler)
                served = self._served(request, attempted, started)
                self._finished(request, completion, served, streamed=True)
        except ProviderError as error:
            outcome = "error"
            raise Unavailable(
                f"the stream from {attempted.deployment.name} broke: {error}",
                reason="UPSTREAM_STREAM_BROKEN",
            ) from None
        finally:
            if outcome != "success":
                self._interrupted(request, attempted, assembler, started, outcome)
            await self._settle(attempted.permit, outcome)
        await self._responses.store(request, completion)
        # The usage goes on a last chunk of its own, with who served the stream.
        yield RoutedChunk(StreamChunk(completion.id, usage=completion.usage), served)

    def _stream_usage(self, request: ChatRequest, assembler: StreamAssembler) -> Usage:
        """The upstream's usage if it sent one, else an estimate from what it streamed so far."""
        if assembler.usage is not None:
            return assembler.usage
        self._metrics.estimated.labels(request.model).inc()
        return estimate_usage(request, assembler.completion())

    def _stream_completion(self, request: ChatRequest, assembler: StreamAssembler) -> Completion:
        return replace(assembler.completion(), usage=self._stream_usage(request, assembler))

    def _interrupted(
        self,
        request: ChatRequest,
        attempted: Attempted[Any],
        assembler: StreamAssembler,
        started: float,
        outcome: str,
    ) -> None:
        """Records a stream that ended early; the upstream has charged for what it produced."""
        usage = self._stream_usage(request, assembler)
        latency = self._clock() - started
        self._usage.interrupted(request, attempted.deployment, usage, latency, outcome)

    async def _settle(self, permit: Permit, outcome: str) -> None:
        """Tells the breaker how a stream went. A caller that went away says nothing about the
        deployment (shielded: the permit is handed back even if cancelled again)."""
        if outcome == "cancelled":
            await asyncio.shield(self._chain.breakers.release(permit))
        else:
            await self._chain.breakers.record(permit, success=outcome == "success")

    def _prepare(self, request: ChatRequest) -> tuple[ModelRoute, ChatRequest]:
        route = self._catalogue().route(request.model)
        if route is None:
            raise NotFound(
                f"no model named {request.model!r} in the catalogue", reason="MODEL_NOT_FOUND"
            )
        if not request.context.request_id:
            context = replace(request.context, request_id=uuid.uuid4().hex)
            request = replace(request, context=context)
        return route, request

    async def _run_chain(
        self, request: ChatRequest, route: ModelRoute, attempt: Attempt[T]
    ) -> Attempted[T]:
        try:
            attempted = await self._chain.run(request, plan(route, self._stats, self._rng), attempt)
        except AllDeploymentsFailed as failed:
            self._metrics.requests.labels(request.model, "error").inc()
            raise _as_service_error(failed) from None
        if attempted.fallback:
            self._metrics.fallbacks.labels(request.model).inc()
        return attempted

    async def _complete_once(self, call: UpstreamCall) -> Completion:
        return await self._providers.for_deployment(call.deployment).complete(call)

    async def _open_stream(self, call: UpstreamCall) -> tuple[Upstream, StreamChunk]:
        """The stream and its first chunk: failing before the first chunk is retryable."""
        upstream = self._providers.for_deployment(call.deployment).stream(call)
        try:
            first = await anext(upstream)
        except StopAsyncIteration:
            raise ProviderError(
                f"deployment {call.deployment.name}: the stream ended before any chunk",
                retryable=True,
                reason="UPSTREAM_BAD_RESPONSE",
            ) from None
        except BaseException:
            await upstream.aclose()
            raise
        return upstream, first

    def _cache_hit(
        self, request: ChatRequest, cached: Completion, started: float, *, streamed: bool
    ) -> Routed:
        served = Served(
            request.context.request_id,
            upstream_model=cached.upstream_model,
            cache_hit=True,
            latency_seconds=self._clock() - started,
        )
        self._finished(request, cached, served, streamed=streamed)
        return Routed(cached, served)

    async def _replay(
        self, request: ChatRequest, cached: Completion, started: float
    ) -> AsyncIterator[RoutedChunk]:
        chunks = replay_as_stream(cached)
        for piece in chunks[:-1]:
            yield RoutedChunk(piece)
        routed = self._cache_hit(request, cached, started, streamed=True)
        yield RoutedChunk(chunks[-1], routed.served)

    def _served(self, request: ChatRequest, attempted: Attempted[Any], started: float) -> Served:
        deployment = attempted.deployment
        return Served(
            request.context.request_id,
            deployment=deployment.name,
            provider=deployment.provider,
            upstream_model=deployment.upstream_model or request.model,
            attempts=attempted.attempts,
            latency_seconds=self._clock() - started,
        )

    def _finished(
        self, request: ChatRequest, completion: Completion, served: Served, *, streamed: bool
    ) -> None:
        outcome = "cache_hit" if served.cache_hit else "success"
        self._metrics.requests.labels(request.model, outcome).inc()
        if not served.cache_hit:
            self._metrics.usage(request.model, served.provider, completion.usage)
        self._usage.completed(request, completion, served, streamed=streamed)


def _without_usage(chunk: StreamChunk) -> StreamChunk:
    """Some upstreams put the usage on a content chunk; it goes out last, with `served`."""
    return chunk if chunk.usage is None else replace(chunk, usage=None)


def _as_service_error(failed: AllDeploymentsFailed) -> Exception:
    if failed.failures and failed.rejected:
        return InvalidArgument.field(
            "messages", f"rejected by every deployment: {failed}", reason="UPSTREAM_REJECTED"
        )
    metadata = {f.deployment: f.reason for f in failed.failures}
    return Unavailable(str(failed), reason="ALL_DEPLOYMENTS_FAILED", metadata=metadata)
