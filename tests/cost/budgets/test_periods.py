from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.cost.budgets.periods import Period, as_utc, period_bounds, period_start

PARIS = "Europe/Paris"


def local(zone: str, *args: int) -> datetime:
    year, month, day, hour = (*args, 0)[:4]
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_a_day_starts_at_local_midnight_in_the_budgets_time_zone() -> None:
    at = datetime(2025, 3, 12, 23, 30, tzinfo=UTC)  # 00:30 on the 13th in Paris
    start, end = period_bounds(Period.DAILY, PARIS, at)
    assert start == local(PARIS, 2025, 3, 13) == datetime(2025, 3, 12, 23, tzinfo=UTC)
    assert end == local(PARIS, 2025, 3, 14)


def test_the_day_clocks_spring_forward_lasts_23_hours() -> None:
    start, end = period_bounds(Period.DAILY, PARIS, local(PARIS, 2025, 3, 30, 12))
    assert start == datetime(2025, 3, 29, 23, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_the_day_clocks_fall_back_lasts_25_hours() -> None:
    start, end = period_bounds(Period.DAILY, PARIS, local(PARIS, 2025, 10, 26, 12))
    assert start == datetime(2025, 10, 25, 22, tzinfo=UTC)
    assert end - start == timedelta(hours=25)


def test_an_instant_in_the_repeated_hour_belongs_to_its_day() -> None:
    # 02:30 happens twice in Paris on 2025-10-26; both are that day.
    for fold in (0, 1):
        at = datetime(2025, 10, 26, 2, 30, fold=fold, tzinfo=ZoneInfo(PARIS))
        assert period_start(Period.DAILY, PARIS, at) == datetime(2025, 10, 25, 22, tzinfo=UTC)


def test_a_day_whose_midnight_was_skipped_starts_when_the_clocks_jumped() -> None:
    # Sao Paulo went from 2018-11-03 23:59:59 (-03) straight to 2018-11-04 01:00 (-02).
    zone = "America/Sao_Paulo"
    start, end = period_bounds(Period.DAILY, zone, datetime(2018, 11, 4, 12, tzinfo=UTC))
    assert start == datetime(2018, 11, 4, 3, tzinfo=UTC)
    assert start.astimezone(ZoneInfo(zone)).hour == 1
    assert end - start == timedelta(hours=23)
    before = period_bounds(Period.DAILY, zone, start - timedelta(seconds=1))
    assert before[1] == start


def test_a_week_starts_on_monday() -> None:
    start, end = period_bounds(Period.WEEKLY, "UTC", datetime(2025, 3, 16, 23, 59, tzinfo=UTC))
    assert start == datetime(2025, 3, 10, tzinfo=UTC)  # the Monday before that Sunday
    assert end == datetime(2025, 3, 17, tzinfo=UTC)


def test_a_week_across_a_dst_change_is_168_local_hours() -> None:
    start, end = period_bounds(Period.WEEKLY, PARIS, local(PARIS, 2025, 3, 26))
    assert start == local(PARIS, 2025, 3, 24)
    assert end == local(PARIS, 2025, 3, 31)
    assert end - start == timedelta(days=7, hours=-1)


@pytest.mark.parametrize(
    ("at", "first", "following"),
    [
        ((2025, 1, 31, 12), (2025, 1, 1), (2025, 2, 1)),
        ((2025, 2, 28, 23), (2025, 2, 1), (2025, 3, 1)),
        ((2024, 2, 29, 23), (2024, 2, 1), (2024, 3, 1)),
        ((2025, 12, 31, 23), (2025, 12, 1), (2026, 1, 1)),
        ((2025, 3, 31, 23), (2025, 3, 1), (2025, 4, 1)),
    ],
)
def test_a_month_runs_from_its_first_to_the_next_months_first(
    at: tuple[int, ...], first: tuple[int, ...], following: tuple[int, ...]
) -> None:
    start, end = period_bounds(Period.MONTHLY, PARIS, local(PARIS, *at))
    assert (start, end) == (local(PARIS, *first), local(PARIS, *following))


def test_the_last_instant_of_a_period_is_in_it_and_its_end_is_in_the_next() -> None:
    start, end = period_bounds(Period.MONTHLY, PARIS, local(PARIS, 2025, 3, 15))
    assert period_start(Period.MONTHLY, PARIS, end - timedelta(microseconds=1)) == start
    assert period_start(Period.MONTHLY, PARIS, end) == end


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_bounds(Period.DAILY, "UTC", datetime(2025, 1, 1))


def test_as_utc_reads_a_naive_instant_as_utc_and_converts_an_aware_one() -> None:
    assert as_utc(datetime(2025, 1, 1, 12)) == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert as_utc(local(PARIS, 2025, 1, 1, 12)).tzinfo is UTC
    assert as_utc(datetime(2025, 1, 1, 13, tzinfo=ZoneInfo(PARIS))).hour == 12
