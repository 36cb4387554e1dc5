"""OpenTelemetry tracing for a service, configured by the standard `OTEL_*` variables.

Tracing is on when spans have somewhere to go: `OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and `OTEL_SDK_DISABLED` is not `true`). Then every
RPC is a server span continuing the caller's trace, exported over OTLP/gRPC, and its trace id is
in every log line. Without an exporter no spans are made at all: measured here, spans that
nobody collects cost about a fifth of a rate-limit decision's CPU. The exporter reads the rest
of its settings (headers, certificates, timeout, sampler) from the standard variables itself.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    return environ.get("OTEL_SDK_DISABLED", "").lower() != "true"


def exporting(environ: Mapping[str, str]) -> bool:
    """True when an OTLP endpoint for traces is configured."""
    return any(environ.get(name) for name in _ENDPOINT_VARS)


def create_tracer_provider(service: str, environ: Mapping[str, str]) -> TracerProvider:
    """A provider for `service`, exporting over OTLP when an endpoint is configured."""
    resource = Resource.create({SERVICE_NAME: environ.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if exporting(environ):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def install_global(provider: TracerProvider) -> None:
    """Make `provider` the process's tracer provider (OpenTelemetry allows this once)."""
    trace.set_tracer_provider(provider)


def tracing_interceptor(provider: TracerProvider) -> grpc.aio.ServerInterceptor:
    interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=provider
    )
    return interceptor


__all__ = [
    "create_tracer_provider",
    "exporting",
    "install_global",
    "tracing_enabled",
    "tracing_interceptor",
]
