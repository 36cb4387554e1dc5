"""The status mapping, fed with the exact trailers svckit's interceptor puts on the wire."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway.openai.errors import (
    OpenAIError,
    from_rpc_error,
    insufficient_quota,
    internal_error,
    invalid_api_key,
    model_not_found,
    permission_denied,
    rate_limit_exceeded,
    retry_after_headers,
    service_unavailable,
    to_openai_error,
)
from svckit.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    ServiceError,
    Unavailable,
)
from svckit.interceptors import status_of


def rpc_error(error: ServiceError, *extra: object) -> grpc.aio.AioRpcError:
    status = status_of(error, "router.switchboard")
    for detail in extra:
        container = any_pb2.Any()
        container.Pack(detail)  # type: ignore[arg-type]
        status.details.append(container)
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    return grpc.aio.AioRpcError(error.code, grpc.aio.Metadata(), trailers, error.message)


def bare(code: grpc.StatusCode, details: str = "") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


def test_error_body_and_response() -> None:
    error = OpenAIError(418, "teapot", type="t", param="p", code="c", headers={"x": "1"})

    assert error.to_response() == (
        418,
        {"x": "1"},
        {"error": {"message": "teapot", "type": "t", "param": "p", "code": "c"}},
    )
    assert "teapot" in repr(error)


def test_invalid_argument_names_the_first_violated_field() -> None:
    error = from_rpc_error(rpc_error(InvalidArgument.field("messages[2].role", "bad role")))

    assert (error.status, error.type, error.param) == (
        400,
        "invalid_request_error",
        "messages[2].role",
    )
    assert error.code == "invalid_argument"
    assert "bad role" in error.message


def test_failed_precondition_is_a_bad_request_with_its_reason() -> None:
    error = from_rpc_error(rpc_error(FailedPrecondition("job finished", reason="JOB_FINISHED")))

    assert (error.status, error.code, error.param) == (400, "job_finished", None)


def test_unknown_model_is_404_model_not_found() -> None:
    error = from_rpc_error(rpc_error(NotFound("no model 'x'", reason="MODEL_NOT_FOUND")))

    assert (error.status, error.code, error.param) == (404, "model_not_found", "model")


def test_other_not_found_keeps_its_reason() -> None:
    error = from_rpc_error(rpc_error(NotFound("no job", reason="JOB_NOT_FOUND")))

    assert (error.status, error.code, error.param) == (404, "job_not_found", None)
    assert from_rpc_error(bare(grpc.StatusCode.NOT_FOUND)).code == "not_found"


def test_already_exists_is_409() -> None:
    assert from_rpc_error(bare(grpc.StatusCode.ALREADY_EXISTS, "dup")).status == 409


def test_unauthenticated_is_401_invalid_api_key() -> None:
    error = from_rpc_error(bare(grpc.StatusCode.UNAUTHENTICATED, "revoked key"))

    assert (error.status, error.type, error.code) == (
        401,
        "authentication_error",
        "invalid_api_key",
    )
    assert error.message == "revoked key"


def test_permission_denied_is_403() -> None:
    error = from_rpc_error(bare(grpc.StatusCode.PERMISSION_DENIED))

    assert (error.status, error.code) == (403, "permission_denied")


def test_resource_exhausted_is_429_with_retry_after_from_retry_info() -> None:
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=2, nanos=500_000_000)
    )

    error = from_rpc_error(rpc_error(ResourceExhausted("slow down"), retry))

    assert (error.status, error.code) == (429, "rate_limit_exceeded")
    assert error.headers == {"retry-after": "3", "retry-after-ms": "2500"}


def test_resource_exhausted_without_retry_info_has_no_retry_after() -> None:
    error = from_rpc_error(bare(grpc.StatusCode.RESOURCE_EXHAUSTED))

    assert error.status == 429
    assert "retry-after" not in error.headers


def test_budget_exhaustion_is_insufficient_quota() -> None:
    error = from_rpc_error(rpc_error(ResourceExhausted("spent", reason="BUDGET_EXCEEDED")))

    assert (error.status, error.type, error.code) == (
        429,
        "insufficient_quota",
        "insufficient_quota",
    )
    assert error.headers["x-should-retry"] == "false"


def test_unavailable_is_503_without_the_services_text() -> None:
    error = from_rpc_error(
        rpc_error(Unavailable("d1 at 10.0.0.7 down", reason="ALL_DEPLOYMENTS_FAILED"))
    )

    assert (error.status, error.type, error.code) == (503, "server_error", "all_deployments_failed")
    assert "10.0.0.7" not in error.message


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.CANCELLED,
    ],
)
def test_other_codes_are_a_bare_500(code: grpc.StatusCode) -> None:
    error = from_rpc_error(bare(code, "Traceback: secret"))

    assert (error.status, error.message, error.code) == (500, "internal error", "internal_error")


def test_malformed_details_trailer_still_maps_the_code() -> None:
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", b"\xff\xff not a status"))
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), trailers, "bad"
    )

    assert (from_rpc_error(error).status, from_rpc_error(error).param) == (400, None)


def test_status_without_details_maps_the_code() -> None:
    status = status_pb2.Status(code=3, message="bad")
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", status.SerializeToString()))
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT, grpc.aio.Metadata(), trailers, "bad"
    )

    assert from_rpc_error(error).code == "invalid_value"


def test_gateway_decision_helpers() -> None:
    assert rate_limit_exceeded("m", 0.2, limit_type="tokens").to_response()[:2] == (
        429,
        {"retry-after": "1", "retry-after-ms": "200"},
    )
    assert rate_limit_exceeded("m").type == "requests"
    assert insufficient_quota().headers == {"x-should-retry": "false"}
    assert insufficient_quota(retry_after_seconds=60).headers["retry-after"] == "60"
    assert invalid_api_key().status == 401
    assert permission_denied().status == 403
    assert model_not_found("gpt-x").message.startswith("The model `gpt-x` does not exist")
    assert service_unavailable().status == 503
    assert internal_error().status == 500


@pytest.mark.parametrize("seconds", [None, -1.0, float("inf"), float("nan")])
def test_unknown_retry_after_sends_no_header(seconds: float | None) -> None:
    assert retry_after_headers(seconds) == {}


def test_to_openai_error_keeps_maps_or_hides() -> None:
    own = model_not_found("m")

    assert to_openai_error(own) is own
    assert to_openai_error(bare(grpc.StatusCode.UNAVAILABLE)).status == 503
    assert to_openai_error(KeyError("sk-secret")).message == "internal error"
