"""Building request messages from path values, the query string and the JSON body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf.message import Message
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb

from gateway.transcoding.http_rules import Route, routes_of
from gateway.transcoding.request_mapping import RequestMappingError, build_request
from svckit.errors import FieldViolation

from .test_http_rules import LIBRARY, SERVICES

ROUTES = {r.full_name: r for s in [*SERVICES, LIBRARY] for r in routes_of(s) if not r.binding_index}


def _route(name: str) -> Route:
    return ROUTES[name]


def _build(
    name: str,
    path: dict[str, str] | None = None,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
) -> Message:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return build_request(_route(name), path or {}, query or [], raw)


def _violations(*args: Any, **kwargs: Any) -> list[FieldViolation]:
    with pytest.raises(RequestMappingError) as caught:
        _build(*args, **kwargs)
    return list(caught.value.violations)


GET_SPEND = "switchboard.cost.v1.CostService.GetSpend"
EXPORT = "switchboard.cost.v1.CostService.ExportSpend"
SET_OVERRIDE = "switchboard.ratelimit.v1.RateLimitService.SetOverride"
COMMIT = "switchboard.ratelimit.v1.RateLimitService.CommitReservation"
CHECK = "switchboard.ratelimit.v1.RateLimitService.CheckQuota"
GET_BOOK = "library.v1.LibraryService.GetBook"
MOVE_BOOK = "library.v1.LibraryService.MoveBook"
RELEASE = "switchboard.ratelimit.v1.RateLimitService.ReleaseReservation"


def test_query_parameters_fill_repeated_enums_by_name_or_number_and_timestamps() -> None:
    query = [
        ("start", "2025-01-06T00:00:00Z"),
        ("end", "2025-01-07T01:00:00+01:00"),
        ("groupBy", "SPEND_DIMENSION_MODEL"),
        ("group_by", "1"),
        ("tenant", "t1"),
    ]
    request = _build(GET_SPEND, query=query)
    assert request == cost_pb.GetSpendRequest(
        start={"seconds": 1736121600},
        end={"seconds": 1736208000},
        group_by=[cost_pb.SPEND_DIMENSION_MODEL, cost_pb.SPEND_DIMENSION_TENANT],
        tenant="t1",
    )


def test_nested_query_parameters_fill_a_sub_message() -> None:
    query = [("query.tenant", "t1"), ("query.groupBy", "SPEND_DIMENSION_DAY"), ("format", "json")]
    request = _build(EXPORT, query=query)
    expected = cost_pb.GetSpendRequest(tenant="t1", group_by=[cost_pb.SPEND_DIMENSION_DAY])
    assert request == cost_pb.ExportSpendRequest(query=expected, format="json")


def test_scalars_of_every_kind_come_from_their_json_forms_in_the_query() -> None:
    query = [
        ("pages", "-12"),
        ("copies", "18446744073709551615"),
        ("available", "TRUE"),
        ("rating", "4.5"),
        ("readTime", "1.5s"),
        ("tags", "a"),
        ("tags", "b"),
        ("stock", "7"),
        ("signed", "false"),
        ("year", "1999"),
        ("genre", "GENRE_SF"),
        ("shelf.id", "s1"),
        ("sequel.sequel.name", "third"),
    ]
    book = _build(GET_BOOK, path={"name": "shelves/s/books/b"}, query=query)
    assert json.loads(json.dumps(_to_dict(book))) == {
        "name": "shelves/s/books/b",
        "pages": "-12",
        "copies": "18446744073709551615",
        "available": True,
        "rating": 4.5,
        "readTime": "1.500s",
        "tags": ["a", "b"],
        "stock": "7",
        "signed": False,
        "year": 1999,
        "genre": "GENRE_SF",
        "shelf": {"id": "s1"},
        "sequel": {"sequel": {"name": "third"}},
    }


def _to_dict(message: Message) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(message)


def test_body_star_takes_the_whole_message_and_the_path_value_wins() -> None:
    body = {"reservationId": "from-body", "actualTokens": "42"}
    request = _build(COMMIT, path={"reservation_id": "r1"}, body=body)
    assert request == rl_pb.CommitReservationRequest(reservation_id="r1", actual_tokens=42)


def test_a_body_field_takes_that_field_and_nested_path_values_join_it() -> None:
    body = {"subject": "keys/other", "requestsPerDay": "5", "expireTime": "2030-01-01T00:00:00Z"}
    request = _build(SET_OVERRIDE, path={"override.subject": "keys/k1"}, body=body)
    expected = rl_pb.QuotaOverride(
        subject="keys/k1", requests_per_day=5, expire_time={"seconds": 1893456000}
    )
    assert request == rl_pb.SetOverrideRequest(override=expected)


def test_a_body_field_route_still_reads_other_fields_from_the_query() -> None:
    book = _build(MOVE_BOOK, path={"name": "b1"}, query=[("pages", "3")], body={"id": "s9"})
    assert _to_dict(book) == {"name": "b1", "pages": "3", "shelf": {"id": "s9"}}


def test_an_empty_body_is_an_empty_message() -> None:
    assert _build(CHECK, body=b"  ") == rl_pb.CheckQuotaRequest()
    assert _build(SET_OVERRIDE, path={"override.subject": "keys/k"}, body=b"") == (
        rl_pb.SetOverrideRequest(override=rl_pb.QuotaOverride(subject="keys/k"))
    )


def test_a_route_without_body_accepts_an_empty_object() -> None:
    assert _build(RELEASE, path={"reservation_id": "r"}, body=b"{}") == (
        rl_pb.ReleaseReservationRequest(reservation_id="r")
    )


@pytest.mark.parametrize(
    ("name", "query", "field", "problem"),
    [
        (GET_SPEND, [("nope", "1")], "nope", "unknown query parameter"),
        (GET_SPEND, [("tenant", "a"), ("tenant", "b")], "tenant", "more than once"),
        (GET_SPEND, [("start", "yesterday")], "start", "Failed to parse start"),
        (GET_SPEND, [("groupBy", "SPEND_DIMENSION_NOPE")], "groupBy", "Invalid enum value"),
        (EXPORT, [("query", "x")], "query", "cannot be set from the query string"),
        (CHECK, [("model", "m")], "model", "reads its fields from the JSON body"),
        (SET_OVERRIDE, [("override.reason", "x")], "override.reason", "belongs to the JSON body"),
        (COMMIT, [("reservationId", "x")], "reservationId", "JSON body"),
        (RELEASE, [("reservation_id", "x")], "reservation_id", "already bound by the URL path"),
        (GET_BOOK, [("available", "yes")], "available", "expected true or false"),
        (GET_BOOK, [("pages", "1.5")], "pages", "Failed to parse pages field"),
        (GET_BOOK, [("labels", "x")], "labels", "cannot be set from the query string"),
        (GET_BOOK, [("extra", "x")], "extra", "cannot be set from the query string"),
        (GET_BOOK, [("editions.name", "x")], "editions.name", "unknown query parameter"),
    ],
)
def test_a_bad_query_parameter_is_a_violation_naming_it(
    name: str, query: list[tuple[str, str]], field: str, problem: str
) -> None:
    path = {"name": "shelves/s/books/b"} if name == GET_BOOK else {}
    if name in (COMMIT, RELEASE):
        path = {"reservation_id": "r"}
    (violation,) = _violations(name, path=path, query=query)
    assert violation.field == field
    assert problem in violation.description


def test_every_bad_query_parameter_is_reported_at_once() -> None:
    violations = _violations(GET_SPEND, query=[("nope", "1"), ("start", "x"), ("model", "m")])
    assert [v.field for v in violations] == ["nope", "start"]


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        (CHECK, b"{not json", "not valid JSON"),
        (CHECK, b"[1, 2]", "must be a JSON object"),
        (CHECK, b"[" * 100_000, "not valid JSON"),
        (CHECK, b"\xff\xfe", "not valid JSON"),
        (CHECK, {"estimatedTokens": "many"}, "Failed to parse estimatedTokens field"),
        (CHECK, {"unknownField": 1}, 'no field named "unknownField"'),
        (RELEASE, {"reservationId": "x"}, "this route takes no request body"),
    ],
)
def test_a_bad_body_is_a_violation_of_the_body(name: str, body: Any, problem: str) -> None:
    path = {"reservation_id": "r"} if name == RELEASE else {}
    (violation,) = _violations(name, path=path, body=body)
    assert violation.field == "body"
    assert problem in violation.description


def test_a_bad_body_field_is_a_violation_named_after_the_field() -> None:
    body = {"requestsPerDay": "lots"}
    (violation,) = _violations(SET_OVERRIDE, path={"override.subject": "keys/k"}, body=body)
    assert violation.field == "override"
    assert "requestsPerDay" in violation.description


def test_a_body_field_that_is_not_an_object_is_refused_even_with_a_nested_path_value() -> None:
    (violation,) = _violations(SET_OVERRIDE, path={"override.subject": "keys/k"}, body=[1])
    assert violation.field == "override"


def test_a_path_value_that_does_not_parse_is_a_violation_naming_the_variable() -> None:
    route = _route(GET_BOOK)
    with pytest.raises(RequestMappingError) as caught:
        build_request(route, {"pages": "x"}, [], b"")
    assert caught.value.violations == (
        FieldViolation("pages", caught.value.violations[0].description),
    )
    assert "Failed to parse pages field" in caught.value.message
