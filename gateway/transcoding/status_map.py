"""The one table from gRPC status codes to HTTP statuses, and the error body of admin routes.

The table is Google's (google/rpc/code.proto, as grpc-gateway and Envoy's transcoder use it).
The body is `google.rpc.Status` in Google's JSON error shape:

    {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "...", "details": [...]}}

where `code` is the HTTP status and `details` are the status's details (ErrorInfo, BadRequest,
...) in their JSON mapping with an "@type", decoded from the `grpc-status-details-bin` trailer.
A detail of a type the gateway does not know keeps only its "@type".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from svckit.errors import FieldViolation

HTTP_STATUS: Mapping[grpc.StatusCode, int] = MappingProxyType(
    {
        grpc.StatusCode.OK: 200,
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.FAILED_PRECONDITION: 400,
        grpc.StatusCode.OUT_OF_RANGE: 400,
        grpc.StatusCode.UNAUTHENTICATED: 401,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.ALREADY_EXISTS: 409,
        grpc.StatusCode.ABORTED: 409,
        grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
        grpc.StatusCode.CANCELLED: 499,
        grpc.StatusCode.UNIMPLEMENTED: 501,
        grpc.StatusCode.UNAVAILABLE: 503,
        grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    }
)
"""gRPC code to HTTP status; UNKNOWN, INTERNAL, DATA_LOSS and any other code are 500."""


def http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)


def error_body(
    code: grpc.StatusCode, message: str, details: Iterable[Message | any_pb2.Any] = ()
) -> dict[str, Any]:
    """Google's JSON error body for a status; `details` are messages or packed Anys."""
    return {
        "error": {
            "code": http_status(code),
            "status": code.name,
            "message": message,
            "details": [_detail(d) for d in details],
        }
    }


def _detail(detail: Message | any_pb2.Any) -> dict[str, Any]:
    if isinstance(detail, any_pb2.Any):
        packed = detail
    else:
        packed = any_pb2.Any()
        packed.Pack(detail)
    try:
        return json_format.MessageToDict(packed)
    except (TypeError, KeyError):
        # The detail's type is not in the gateway's descriptor pool.
        return {"@type": str(packed.type_url)}


def rpc_error_body(error: grpc.aio.AioRpcError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and error body of a failed call, with the trailer's details."""
    code: grpc.StatusCode = error.code()
    message = str(error.details() or "")
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        status = None  # Trailer and status disagree: trust the status, drop the details.
    details = list(status.details) if status is not None else []
    return http_status(code), error_body(code, message, details)


def bad_request_body(violations: Sequence[FieldViolation], message: str) -> dict[str, Any]:
    """The 400 body of a request the gateway refused before calling the service."""
    bad_request = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    info = error_details_pb2.ErrorInfo(reason="INVALID_ARGUMENT", domain="gateway")
    return error_body(grpc.StatusCode.INVALID_ARGUMENT, message, [info, bad_request])


__all__ = ["HTTP_STATUS", "bad_request_body", "error_body", "http_status", "rpc_error_body"]
