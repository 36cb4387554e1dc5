from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from svckit.errors import FieldViolation, InvalidArgument, NotFound, Unavailable, Violations
from svckit.interceptors import status_of


def test_violations_collect_every_bad_field() -> None:
    violations = Violations()
    violations.check(True, "ok", "never reported")
    violations.check(False, "name", "must not be empty")
    nested = Violations()
    nested.add("tier", "unknown tier 'gold'")
    violations.extend(nested, prefix="subjects[0].")
    with pytest.raises(InvalidArgument) as caught:
        violations.raise_if_any()
    assert caught.value.violations == (
        FieldViolation("name", "must not be empty"),
        FieldViolation("subjects[0].tier", "unknown tier 'gold'"),
    )
    assert caught.value.message == "name: must not be empty; subjects[0].tier: unknown tier 'gold'"


def test_empty_violations_raise_nothing() -> None:
    Violations().raise_if_any()


def test_invalid_argument_needs_a_violation() -> None:
    with pytest.raises(ValueError, match="at least one"):
        InvalidArgument([])


def test_status_carries_code_reason_and_field_violations() -> None:
    status = status_of(InvalidArgument.field("model", "too long", reason="BAD_MODEL"), "x.sb")
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    info = error_details_pb2.ErrorInfo()
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(info)
    assert status.details[1].Unpack(bad)
    assert (info.reason, info.domain) == ("BAD_MODEL", "x.sb")
    assert bad.field_violations[0].field == "model"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (Unavailable("down"), grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_each_error_has_its_code(error: NotFound | Unavailable, code: grpc.StatusCode) -> None:
    status = status_of(error, "d")
    assert status.code == code.value[0]
    assert len(status.details) == 1
