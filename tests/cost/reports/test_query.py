"""SpendQuery: whole UTC days, and every bad request refused with the proto's field names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from switchboard.cost.v1 import cost_service_pb2 as pb

from services.cost.reports.query import MAX_DAYS, MAX_DIMENSIONS, Dimension, SpendQuery
from svckit.errors import InvalidArgument

D = Dimension
START = datetime(2024, 3, 1, tzinfo=UTC)
END = datetime(2024, 3, 8, tzinfo=UTC)


def violations(raised: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in raised.value.violations]


def test_a_valid_query_keeps_its_dimensions_in_order() -> None:
    query = SpendQuery(START, END, group_by=(D.DAY, D.TENANT), tenant="acme")

    assert query.group_by == (D.DAY, D.TENANT)
    assert (query.start_day, query.end_day) == (date(2024, 3, 1), date(2024, 3, 8))
    assert not query.by_flag


def test_dimension_names_are_accepted_and_become_a_hashable_tuple() -> None:
    query = SpendQuery(START, END, group_by=["model", "day"])  # type: ignore[arg-type]

    assert query.group_by == (D.MODEL, D.DAY)
    assert hash(query) == hash(SpendQuery(START, END, group_by=(D.MODEL, D.DAY)))


def test_offsets_are_normalised_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    query = SpendQuery(datetime(2024, 3, 1, 8, tzinfo=tokyo), END)

    assert query.start == datetime(2024, 2, 29, 23, tzinfo=UTC)
    assert query.start_day == date(2024, 2, 29)


def test_naive_datetimes_are_utc() -> None:
    query = SpendQuery(datetime(2024, 3, 1, 12), datetime(2024, 3, 2, 12))

    assert query.start == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert (query.start_day, query.end_day) == (date(2024, 3, 1), date(2024, 3, 3))


def test_end_day_is_exclusive_at_midnight_and_widened_otherwise() -> None:
    at_midnight = SpendQuery(START, datetime(2024, 3, 2, tzinfo=UTC))
    just_after = SpendQuery(START, datetime(2024, 3, 2, 0, 0, 0, 1, tzinfo=UTC))

    assert at_midnight.end_day == date(2024, 3, 2)
    assert just_after.end_day == date(2024, 3, 3)


@pytest.mark.parametrize("end", [START, START - timedelta(seconds=1)], ids=["equal", "before"])
def test_end_must_be_after_start(end: datetime) -> None:
    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(START, end)

    assert violations(raised) == ["end"]


def test_a_range_of_max_days_is_accepted_and_one_more_refused() -> None:
    SpendQuery(START, START + timedelta(days=MAX_DAYS))

    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(START, START + timedelta(days=MAX_DAYS, seconds=1))

    assert violations(raised) == ["end"]
    assert str(MAX_DAYS) in raised.value.violations[0].description


def test_too_many_dimensions_are_refused() -> None:
    five = (D.TENANT, D.SUBJECT, D.MODEL, D.ENDPOINT, D.DAY)
    assert len(five) == MAX_DIMENSIONS + 1

    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(START, END, group_by=five)

    assert violations(raised) == ["group_by"]


def test_a_repeated_dimension_is_refused() -> None:
    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(START, END, group_by=(D.MODEL, D.DAY, D.MODEL))

    assert violations(raised) == ["group_by"]
    assert "model" in raised.value.violations[0].description


def test_an_unknown_dimension_name_is_refused() -> None:
    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(START, END, group_by=("colour",))  # type: ignore[arg-type]

    assert violations(raised) == ["group_by"]
    assert "colour" in raised.value.message


@pytest.mark.parametrize("other", [D.SUBJECT, D.ENDPOINT, D.PROMPT_VERSION])
def test_flag_variant_cannot_be_combined_with_what_the_flag_aggregate_lacks(
    other: Dimension,
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(START, END, group_by=(D.FLAG_VARIANT, other))

    assert violations(raised) == ["group_by"]
    assert other.value in raised.value.violations[0].description


@pytest.mark.parametrize("other", [D.TENANT, D.MODEL, D.DAY])
def test_flag_variant_combines_with_what_the_flag_aggregate_keeps(other: Dimension) -> None:
    query = SpendQuery(START, END, group_by=(D.FLAG_VARIANT, other), tenant="t", model="m")

    assert query.by_flag


def test_flag_variant_cannot_be_filtered_by_subject() -> None:
    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(START, END, group_by=(D.FLAG_VARIANT,), subject="users/ann")

    assert violations(raised) == ["subject"]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as raised:
        SpendQuery(END, START, group_by=(D.FLAG_VARIANT, D.SUBJECT, D.SUBJECT), subject="u")

    assert sorted(violations(raised)) == ["end", "group_by", "group_by", "subject"]


@pytest.mark.parametrize("name", [name for name, number in pb.SpendDimension.items() if number])
def test_proto_dimension_numbers_map_to_the_dimension_of_the_same_name(name: str) -> None:
    number = pb.SpendDimension.Value(name)

    assert Dimension.from_proto(number).value == name.removeprefix("SPEND_DIMENSION_").lower()


def test_every_dimension_has_a_proto_number() -> None:
    mapped = {Dimension.from_proto(n) for n in pb.SpendDimension.values() if n}

    assert mapped == set(Dimension)


@pytest.mark.parametrize("number", [pb.SPEND_DIMENSION_UNSPECIFIED, 99])
def test_unspecified_or_unknown_proto_dimensions_are_refused(number: int) -> None:
    with pytest.raises(InvalidArgument) as raised:
        Dimension.from_proto(number)

    assert violations(raised) == ["group_by"]
