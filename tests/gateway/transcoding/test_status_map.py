"""The one gRPC-to-HTTP status table and the error body, decoded from real failed calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.transcoding.status_map import (
    HTTP_STATUS,
    bad_request_body,
    error_body,
    http_status,
    rpc_error_body,
)
from svckit.errors import FieldViolation

GOOGLE_TABLE = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


@pytest.mark.parametrize("code", list(grpc.StatusCode), ids=lambda c: c.name)
def test_every_grpc_code_maps_to_googles_http_status(code: grpc.StatusCode) -> None:
    assert http_status(code) == GOOGLE_TABLE[code.name]


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        HTTP_STATUS[grpc.StatusCode.INTERNAL] = 200  # type: ignore[index]


def test_the_error_body_is_googles_json_status_shape_with_typed_details() -> None:
    info = error_details_pb2.ErrorInfo(reason="NO_OVERRIDE", domain="ratelimit")
    body = error_body(grpc.StatusCode.NOT_FOUND, "no override", [info])
    assert body == {
        "error": {
            "code": 404,
            "status": "NOT_FOUND",
            "message": "no override",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "NO_OVERRIDE",
                    "domain": "ratelimit",
                }
            ],
        }
    }


def test_a_detail_of_a_type_the_gateway_does_not_know_keeps_its_type_only() -> None:
    unknown = any_pb2.Any(type_url="type.googleapis.com/acme.v1.Secret", value=b"\x08\x01")
    body = error_body(grpc.StatusCode.INTERNAL, "boom", [unknown])
    assert body["error"]["details"] == [{"@type": "type.googleapis.com/acme.v1.Secret"}]


def test_a_gateway_refusal_carries_its_field_violations() -> None:
    body = bad_request_body([FieldViolation("start", "bad timestamp")], "start: bad timestamp")
    error = body["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][1] == {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        "fieldViolations": [{"field": "start", "description": "bad timestamp"}],
    }
    assert error["details"][0]["reason"] == "INVALID_ARGUMENT"


Behaviour = Callable[[grpc.aio.ServicerContext], Awaitable[None]]


async def _failing_call(behaviour: Behaviour) -> grpc.aio.AioRpcError:
    """Call a real server whose one method fails as `behaviour` says; returns the error."""

    async def handle(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await behaviour(context)
        return b""

    handler = grpc.unary_unary_rpc_method_handler(handle)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("test.Fail", {"Call": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/test.Fail/Call")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(b"")
            return caught.value
    finally:
        await server.stop(None)


def _rich_status(message: str) -> status_pb2.Status:
    violation = error_details_pb2.BadRequest.FieldViolation(field="subject", description="empty")
    details = [error_details_pb2.BadRequest(field_violations=[violation])]
    packed = []
    for detail in details:
        container = any_pb2.Any()
        container.Pack(detail)
        packed.append(container)
    return status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=message, details=packed)


async def test_a_failed_call_maps_its_code_and_decodes_the_details_trailer() -> None:
    async def fail(context: grpc.aio.ServicerContext) -> None:
        await context.abort_with_status(rpc_status.to_status(_rich_status("subject: empty")))

    status, body = rpc_error_body(await _failing_call(fail))
    assert status == 400
    assert body["error"]["message"] == "subject: empty"
    assert body["error"]["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "subject", "description": "empty"}],
        }
    ]


async def test_a_failed_call_without_details_has_an_empty_detail_list() -> None:
    async def fail(context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "store down")

    assert rpc_error_body(await _failing_call(fail)) == (
        503,
        {"error": {"code": 503, "status": "UNAVAILABLE", "message": "store down", "details": []}},
    )


async def test_a_details_trailer_that_contradicts_the_status_is_dropped() -> None:
    async def fail(context: grpc.aio.ServicerContext) -> None:
        trailer = _rich_status("another message").SerializeToString()
        context.set_trailing_metadata([("grpc-status-details-bin", trailer)])
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the real message")

    status, body = rpc_error_body(await _failing_call(fail))
    assert (status, body["error"]["message"], body["error"]["details"]) == (
        400,
        "the real message",
        [],
    )
