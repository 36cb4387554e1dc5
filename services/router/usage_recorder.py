"""Turns a finished call into its usage event: the one place that fills a `UsageEvent`.

Successes and cache hits are recorded by the router as soon as the answer is complete; a stream
that broke or whose caller went away is recorded with what the router knows it used (the
upstream's usage if it came, else an estimate), so the request id is still seen and charged by
the cost service.
Emitting never fails a call: a sink that refuses the event is logged, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from services.router.catalogue import Deployment
from services.router.chat import ChatRequest, Completion, Usage
from services.router.usage_events import UsageEvent, UsageSink

if TYPE_CHECKING:
    from services.router.router import Served

log = logging.getLogger(__name__)


class UsageRecorder:
    def __init__(self, sink: UsageSink, wall_clock: Callable[[], float] = time.time) -> None:
        self._sink = sink
        self._wall_clock = wall_clock

    def completed(
        self, request: ChatRequest, completion: Completion, served: Served, *, streamed: bool
    ) -> None:
        usage = Usage() if served.cache_hit else completion.usage
        self._emit(
            request,
            usage,
            served.latency_seconds,
            "success",
            deployment=served.deployment,
            provider=served.provider,
            upstream_model=served.upstream_model,
            cache_hit=served.cache_hit,
            streamed=streamed,
        )

    def interrupted(
        self,
        request: ChatRequest,
        deployment: Deployment,
        usage: Usage,
        latency_seconds: float,
        outcome: str,
    ) -> None:
        """A stream that ended early: `outcome` is "error" or "cancelled"."""
        self._emit(
            request,
            usage,
            latency_seconds,
            outcome,
            deployment=deployment.name,
            provider=deployment.provider,
            upstream_model=deployment.upstream_model or request.model,
            cache_hit=False,
            streamed=True,
            error_reason="UPSTREAM_STREAM_BROKEN" if outcome == "error" else "",
        )

    def _emit(
        self,
        request: ChatRequest,
        usage: Usage,
        latency_seconds: float,
        outcome: str,
        *,
        deployment: str,
        provider: str,
        upstream_model: str,
        cache_hit: bool,
        streamed: bool,
        error_reason: str = "",
    ) -> None:
        context = request.context
        try:
            self._sink.emit(
                UsageEvent(
                    request_id=context.request_id,
                    occurred_at=self._wall_clock(),
                    tenant=context.tenant,
                    subject=context.subject,
                    endpoint=context.endpoint,
                    model=request.model,
                    deployment=deployment,
                    provider=provider,
                    upstream_model=upstream_model,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cached_tokens=usage.cached_tokens,
                    cache_write_tokens=usage.cache_write_tokens,
                    latency_ms=round(latency_seconds * 1000),
                    outcome=outcome,
                    cache_hit=cache_hit,
                    streamed=streamed,
                    prompt_name=context.prompt_name,
                    prompt_version=context.prompt_version,
                    flag_variants=dict(context.flag_variants),
                    error_reason=error_reason,
                    user=context.user,
                    api_key_id=context.api_key_id,
                )
            )
        except Exception:  # an event we cannot build or hand over must not fail the answer
            log.exception("could not emit the usage event of request %s", context.request_id)
