"""Metrics and spans of upstream calls in the OpenTelemetry GenAI semantic conventions.

Prometheus names are the conventions' instrument names with dots turned into underscores
(`gen_ai.client.operation.duration` becomes `gen_ai_client_operation_duration_seconds`), and
labels are the conventions' attributes likewise (`gen_ai_provider_name`, `gen_ai_request_model`,
`gen_ai_token_type`). Cardinality is bounded: models are the catalogue's public names (unknown
models are refused before anything is recorded), deployments are the catalogue's, outcomes a
short fixed list. No tenant, user or key ever becomes a label.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.router.catalogue import Deployment
from services.router.chat import ChatRequest, Usage

OPERATION = "chat"

_DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
_TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)

ROUTER_TRACER = trace.get_tracer("services.router")


class GenAiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        genai = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")
        self.duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "Duration of upstream calls (each attempt), by outcome.",
            (*genai, "deployment", "outcome"),
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.tokens = Histogram(
            "gen_ai_client_token_usage",
            "Tokens used per upstream call, by token type (input, output).",
            (*genai, "gen_ai_token_type"),
            buckets=_TOKEN_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time from the start of a streamed request to its first chunk.",
            genai,
            buckets=_TTFT_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "router_requests_total",
            "Completed router requests by model and outcome (success, cache_hit, error).",
            ("gen_ai_request_model", "outcome"),
            registry=registry,
        )
        self.fallbacks = Counter(
            "router_fallbacks_total",
            "Requests answered by a deployment other than the first one planned.",
            ("gen_ai_request_model",),
            registry=registry,
        )
        self.estimated = Counter(
            "router_usage_estimated_total",
            "Streams whose upstream reported no usage, so the router estimated it.",
            ("gen_ai_request_model",),
            registry=registry,
        )
        self.skipped = Counter(
            "router_deployments_skipped_total",
            "Deployments skipped because their circuit was open.",
            ("deployment",),
            registry=registry,
        )

    def attempt(self, model: str, deployment: Deployment, seconds: float, outcome: str) -> None:
        self.duration.labels(
            OPERATION, deployment.provider, model, deployment.name, outcome
        ).observe(seconds)

    def usage(self, model: str, provider: str, usage: Usage) -> None:
        self.tokens.labels(OPERATION, provider, model, "input").observe(prompt_tokens(usage))
        self.tokens.labels(OPERATION, provider, model, "output").observe(usage.output_tokens)

    def first_token(self, model: str, provider: str, seconds: float) -> None:
        self.ttft.labels(OPERATION, provider, model).observe(seconds)


@contextmanager
def attempt_span(
    request: ChatRequest, deployment: Deployment, tracer: Tracer = ROUTER_TRACER
) -> Iterator[Span]:
    """A client span per upstream attempt, named and attributed as the conventions say."""
    upstream = deployment.upstream_model or request.model
    with tracer.start_as_current_span(
        f"{OPERATION} {upstream}", kind=SpanKind.CLIENT, record_exception=False
    ) as span:
        if span.is_recording():
            span.set_attributes(
                {
                    "gen_ai.operation.name": OPERATION,
                    "gen_ai.provider.name": deployment.provider,
                    "gen_ai.request.model": upstream,
                    "switchboard.deployment": deployment.name,
                }
            )
            if request.sampling.temperature is not None:
                span.set_attribute("gen_ai.request.temperature", request.sampling.temperature)
            if request.sampling.max_tokens is not None:
                span.set_attribute("gen_ai.request.max_tokens", request.sampling.max_tokens)
        yield span


def prompt_tokens(usage: Usage) -> int:
    """All the input the model read, as GenAI conventions count it: cache writes are input too,
    although `Usage` keeps them apart for pricing."""
    return usage.input_tokens + usage.cache_write_tokens


def record_usage_on_span(span: Span, usage: Usage, response_model: str) -> None:
    if span.is_recording():
        span.set_attributes(
            {
                "gen_ai.usage.input_tokens": prompt_tokens(usage),
                "gen_ai.usage.output_tokens": usage.output_tokens,
                "gen_ai.response.model": response_model,
            }
        )


def record_error_on_span(span: Span, reason: str) -> None:
    if span.is_recording():
        span.set_attribute("error.type", reason)
        span.set_status(StatusCode.ERROR, reason)
