from __future__ import annotations

import grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from svckit.server import create_server
from svckit.telemetry import create_tracer_provider, tracing_enabled
from tests.svckit.echo import StringValue, echo_app, unary


async def test_each_rpc_is_a_server_span_continuing_the_callers_trace() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = create_server(echo_app(), tracer_provider=provider)
    await server.start()
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            await unary(channel, "Echo")(
                StringValue(value="x"), metadata=(("traceparent", parent),)
            )
    finally:
        await server.stop(grace=1)
    (span,) = exporter.get_finished_spans()
    assert span.name == "/test.Echo/Echo"
    assert format(span.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"


def test_provider_exports_only_when_an_endpoint_is_configured() -> None:
    quiet = create_tracer_provider("svc", {})
    exporting = create_tracer_provider(
        "svc", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"}
    )
    processors = exporting._active_span_processor._span_processors
    assert quiet._active_span_processor._span_processors == ()
    assert len(processors) == 1
    assert quiet.resource.attributes["service.name"] == "svc"
    exporting.shutdown()


def test_tracing_can_be_disabled_by_the_standard_variable() -> None:
    assert tracing_enabled({})
    assert not tracing_enabled({"OTEL_SDK_DISABLED": "true"})
