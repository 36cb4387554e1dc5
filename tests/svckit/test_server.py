"""The kit's server end to end: a real grpc.aio server on port 0, called over a real channel."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from svckit.logs import configure_logging
from svckit.testing import serving
from tests.svckit.echo import SERVICE, StringValue, echo_app, unary


def _details(error: grpc.aio.AioRpcError) -> list[object]:
    status = rpc_status.from_call(error)
    assert status is not None
    found: list[object] = []
    for detail in status.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found.append(message)
    return found


async def test_echo_round_trip() -> None:
    async with serving(echo_app()) as (_, channel):
        reply = await unary(channel, "Echo")(StringValue(value="hello"))
    assert reply.value == "hello"


async def test_invalid_argument_carries_every_field_violation() -> None:
    async with serving(echo_app()) as (_, channel):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(channel, "Invalid")(StringValue())
    error = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, bad = _details(error)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert info.reason == "INVALID_ARGUMENT"
    assert info.domain == "echo.switchboard"
    assert isinstance(bad, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ("name", "must not be empty"),
        ("size", "must be positive"),
    ]


async def test_not_found_carries_reason_and_metadata() -> None:
    async with serving(echo_app()) as (_, channel):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(channel, "Missing")(StringValue(value="x1"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no such thing"
    (info,) = _details(caught.value)
    assert isinstance(info, error_details_pb2.ErrorInfo)
    assert (info.reason, dict(info.metadata)) == ("THING_NOT_FOUND", {"thing": "x1"})


async def test_unexpected_exception_is_internal_without_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving(echo_app()) as (_, channel):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await unary(channel, "Crash")(StringValue())
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    assert "unhandled error" in caplog.text


async def test_stream_errors_are_mapped_too() -> None:
    async with serving(echo_app()) as (_, channel):
        call = channel.unary_stream(
            f"/{SERVICE}/Stream",
            request_serializer=StringValue.SerializeToString,
            response_deserializer=StringValue.FromString,
        )
        assert [m.value async for m in call(StringValue(value="ab"))] == ["a", "b"]
        received = []

        async def drain() -> None:
            async for message in call(StringValue(value="a!b")):
                received.append(message.value)

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await drain()
    assert received == ["a"]
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_request_id_comes_from_metadata_or_is_generated() -> None:
    async with serving(echo_app()) as (_, channel):
        given = await unary(channel, "RequestId")(
            StringValue(), metadata=(("x-request-id", "req-123"),)
        )
        generated = await unary(channel, "RequestId")(StringValue())
    assert given.value == "req-123"
    assert len(generated.value) == 32


async def test_metrics_count_calls_by_code() -> None:
    app = echo_app()
    async with serving(app) as (_, channel):
        await unary(channel, "Echo")(StringValue())
        with pytest.raises(grpc.aio.AioRpcError):
            await unary(channel, "Missing")(StringValue())
    value = app.registry.get_sample_value
    labels = {"grpc_service": SERVICE, "grpc_method": "Echo"}
    assert value("grpc_server_handled_total", {**labels, "grpc_code": "OK"}) == 1
    assert value("grpc_server_handling_seconds_count", labels) == 1
    missing = {"grpc_service": SERVICE, "grpc_method": "Missing", "grpc_code": "NOT_FOUND"}
    assert value("grpc_server_handled_total", missing) == 1
    assert value("grpc_server_in_flight", labels) == 0


async def test_calls_to_methods_nobody_serves_add_no_metric_series() -> None:
    """Anyone reaching the port may invent method names: each must not cost a series."""
    app = echo_app()
    async with serving(app) as (_, channel):
        for n in range(20):
            method = channel.unary_unary(f"/invented.Service{n}/Method{n}")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await method(b"")
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    names = {
        sample.labels.get("grpc_service")
        for family in app.registry.collect()
        for sample in family.samples
    }
    assert not any(str(name).startswith("invented.") for name in names)


async def test_health_and_reflection_are_served() -> None:
    async with serving(echo_app()) as (_, channel):
        health = health_pb2_grpc.HealthStub(channel)
        overall = await health.Check(health_pb2.HealthCheckRequest(service=""))
        named = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = {s.name async for r in responses for s in r.list_services_response.service}
    assert overall.status == named.status == health_pb2.HealthCheckResponse.SERVING
    assert {SERVICE, "grpc.health.v1.Health"} <= names


async def test_dependency_down_turns_health_not_serving_and_back() -> None:
    up = asyncio.Event()
    up.set()
    seen = asyncio.Queue[bool]()

    async def probe() -> bool:
        seen.put_nowait(up.is_set())
        return up.is_set()

    app = echo_app(dependencies={"store": probe}, probe_interval=0.01)
    async with serving(app) as (server, channel):
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="")
        up.clear()
        while await asyncio.wait_for(seen.get(), 5):
            pass
        await _wait_for_status(health, request, health_pb2.HealthCheckResponse.NOT_SERVING)
        assert server.readiness.down() == {"store"}
        up.set()
        await _wait_for_status(health, request, health_pb2.HealthCheckResponse.SERVING)


async def _wait_for_status(
    health: health_pb2_grpc.HealthStub, request: health_pb2.HealthCheckRequest, want: int
) -> None:
    async def poll() -> None:
        # The state lives in another server: polling it is the only way to observe it.
        while (await health.Check(request)).status != want:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 5)


async def test_stop_drains_in_flight_calls_and_refuses_new_ones() -> None:
    async with serving(echo_app()) as (server, channel):
        in_flight = asyncio.ensure_future(unary(channel, "Slow")(StringValue(value="0.3")))
        await asyncio.sleep(0.05)
        stopping = asyncio.ensure_future(server.stop(grace=5))
        await asyncio.sleep(0.05)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await unary(channel, "Echo")(StringValue(value="late"))
        assert (await in_flight).value == "done"
        await stopping
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_log_lines_are_json_with_request_id_and_no_secrets() -> None:
    stream = io.StringIO()
    configure_logging("echo", "INFO", stream)
    try:
        async with serving(echo_app()) as (_, channel):
            with pytest.raises(grpc.aio.AioRpcError):
                await unary(channel, "Crash")(StringValue(), metadata=(("x-request-id", "r-9"),))
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    crash = next(line for line in lines if line["message"] == "unhandled error in RPC handler")
    assert crash["request_id"] == "r-9"
    assert crash["service"] == "echo"
    assert "hunter2" not in stream.getvalue()
