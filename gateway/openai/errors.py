"""OpenAI's error vocabulary, and the one mapping from gRPC statuses and gateway decisions to it.

OpenAI clients branch on the HTTP status (the official SDK raises `BadRequestError` for 400,
`AuthenticationError` for 401, `PermissionDeniedError` for 403, `NotFoundError` for 404,
`RateLimitError` for 429, `InternalServerError` for 5xx) and read the body
`{"error": {"message", "type", "param", "code"}}`. So every failure the OpenAI routes answer is
an `OpenAIError`, built here and nowhere else:

- from a router (or other service) call that failed: `from_rpc_error` reads the canonical code
  and the `google.rpc.Status` details (ErrorInfo reason, BadRequest field violations, RetryInfo);
- from the gateway's own decisions (a rate limit or a budget refusal is data in the services'
  responses, and only the gateway turns it into a 429): `rate_limit_exceeded`,
  `insufficient_quota`, `invalid_api_key`, `permission_denied`;
- from anything else: `internal_error`, whose message never carries internals.

Decisions:
- 4xx messages are the service's own (written for callers, never holding secrets); 5xx messages
  are fixed texts, because a failure inside the platform may describe its internals (deployment
  names, upstream hosts).
- 429 carries `Retry-After` in whole seconds (rounded up, at least 1, as RFC 9110 wants an
  integer) and `retry-after-ms`, which the official SDKs read first for sub-second waits.
- A budget refusal (`insufficient_quota`, like OpenAI's answer when credit is spent) also says
  `x-should-retry: false`: the official SDKs honour it, so they do not hammer a spent budget.
- UNAUTHENTICATED uses type `authentication_error` with code `invalid_api_key`; the SDK picks
  its exception class from the status, so the type is for people reading the body.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

log = logging.getLogger("gateway.openai")

GRPC_DETAILS_KEY = "grpc-status-details-bin"
INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"


class OpenAIError(Exception):
    """An error answered in OpenAI's body with an HTTP status and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body, `{"error": {...}}`; also the payload of a mid-stream error frame."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def to_response(self) -> tuple[int, dict[str, str], dict[str, Any]]:
        """(HTTP status, headers, JSON body) for the gateway to send."""
        return self.status, dict(self.headers), self.body()

    def __repr__(self) -> str:
        return (
            f"OpenAIError({self.status}, {self.message!r}, type={self.type!r}, code={self.code!r})"
        )


def invalid_request(
    message: str, param: str | None = None, code: str | None = "invalid_value"
) -> OpenAIError:
    """400: the request itself is wrong; `param` names the field (`messages[0].role`)."""
    return OpenAIError(400, message, type=INVALID_REQUEST, param=param, code=code)


def invalid_api_key(message: str = "Incorrect or missing API key.") -> OpenAIError:
    """401. The message must never echo the key that was presented."""
    return OpenAIError(401, message, type="authentication_error", code="invalid_api_key")


def permission_denied(message: str = "This key may not do that.") -> OpenAIError:
    """403: a valid key without the scope, or reaching for another tenant's data."""
    return OpenAIError(403, message, type="permission_error", code="permission_denied")


def model_not_found(model: str) -> OpenAIError:
    """404 with OpenAI's code for an unknown model."""
    message = f"The model `{model}` does not exist or you do not have access to it."
    return OpenAIError(404, message, type=INVALID_REQUEST, param="model", code="model_not_found")


def rate_limit_exceeded(
    message: str, retry_after_seconds: float | None = None, *, limit_type: str = "requests"
) -> OpenAIError:
    """429 from a rate-limit decision; `limit_type` is "requests" or "tokens", as OpenAI says."""
    headers = retry_after_headers(retry_after_seconds)
    return OpenAIError(429, message, type=limit_type, code="rate_limit_exceeded", headers=headers)


def insufficient_quota(
    message: str = "You exceeded your budget; ask your platform team to raise it.",
    retry_after_seconds: float | None = None,
) -> OpenAIError:
    """429 from a budget refusal: OpenAI's answer when the credit is spent."""
    headers = retry_after_headers(retry_after_seconds)
    headers["x-should-retry"] = "false"
    return OpenAIError(
        429, message, type="insufficient_quota", code="insufficient_quota", headers=headers
    )


def service_unavailable(code: str | None = "service_unavailable") -> OpenAIError:
    """503: a dependency is down or every deployment failed; worth retrying later."""
    message = "The service is temporarily unavailable; please retry later."
    return OpenAIError(503, message, type=SERVER_ERROR, code=code)


def internal_error() -> OpenAIError:
    """500 with a fixed message: whatever went wrong stays in the gateway's log."""
    return OpenAIError(500, "internal error", type=SERVER_ERROR, code="internal_error")


def retry_after_headers(seconds: float | None) -> dict[str, str]:
    """`Retry-After` (whole seconds, at least 1) and `retry-after-ms`; empty when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return {}
    return {
        "retry-after": str(max(1, math.ceil(seconds))),
        "retry-after-ms": str(max(0, math.ceil(seconds * 1000))),
    }


def to_openai_error(error: BaseException) -> OpenAIError:
    """Any failure as an OpenAIError: itself, a mapped gRPC status, or a bare 500."""
    if isinstance(error, OpenAIError):
        return error
    if isinstance(error, grpc.aio.AioRpcError):
        return from_rpc_error(error)
    return internal_error()


def from_rpc_error(error: grpc.aio.AioRpcError) -> OpenAIError:
    """The OpenAI error for a failed gRPC call, read from its code and rich status details. A
    failure the caller gets as a 5xx is logged with the downstream's code: the answer itself
    says only that something failed."""
    mapped = from_status(error.code(), error.details() or "", _rich_status(error))
    if mapped.status >= 500:
        log.warning("a downstream call failed: %s %s", error.code().name, error.details() or "")
    return mapped


def from_status(
    code: grpc.StatusCode, message: str, rich: status_pb2.Status | None = None
) -> OpenAIError:
    """The mapping table itself, on a code, its message and the optional rich status."""
    details = _Details.of(rich)
    reason = details.reason
    if code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.FAILED_PRECONDITION,
    ):
        return invalid_request(message, details.param, _lower(reason) or "invalid_value")
    if code == grpc.StatusCode.NOT_FOUND:
        not_found_code = "model_not_found" if reason == "MODEL_NOT_FOUND" else _lower(reason)
        param = "model" if reason == "MODEL_NOT_FOUND" else None
        return OpenAIError(404, message, param=param, code=not_found_code or "not_found")
    if code == grpc.StatusCode.ALREADY_EXISTS:
        return OpenAIError(409, message, code=_lower(reason) or "already_exists")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return invalid_api_key(message or "Incorrect or missing API key.")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return permission_denied(message or "This key may not do that.")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        if "BUDGET" in reason or "QUOTA" in reason:
            return insufficient_quota(message or "Budget exceeded.", details.retry_after)
        return rate_limit_exceeded(
            message or "Rate limit reached.", details.retry_after, limit_type="rate_limit_error"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return service_unavailable(_lower(reason) or "service_unavailable")
    return internal_error()


class _Details:
    """The parts of google.rpc.Status details the mapping uses."""

    def __init__(self) -> None:
        self.reason = ""
        self.param: str | None = None
        self.retry_after: float | None = None

    @classmethod
    def of(cls, rich: status_pb2.Status | None) -> _Details:
        found = cls()
        for container in rich.details if rich is not None else ():
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            retry = error_details_pb2.RetryInfo()
            if container.Unpack(info):
                found.reason = info.reason
            elif container.Unpack(bad) and bad.field_violations:
                found.param = bad.field_violations[0].field
            elif container.Unpack(retry) and retry.HasField("retry_delay"):
                found.retry_after = retry.retry_delay.ToTimedelta().total_seconds()
        return found


def _rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    for key, value in error.trailing_metadata() or ():
        if key == GRPC_DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except DecodeError:  # a malformed trailer must not turn a 4xx into a crash
                return None
    return None


def _lower(reason: str) -> str:
    return reason.lower()
