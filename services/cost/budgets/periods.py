"""Budget periods: calendar days, weeks (from Monday) and months in an IANA time zone.

A period starts at the first instant of its first local day, which is local midnight except on
the few days where a DST change skips midnight (America/Sao_Paulo until 2019 went from 23:59:59
to 01:00): building the local midnight with `fold=0` yields, for a skipped midnight, the instant
the clocks jumped to, and for a repeated one the earlier of the two, both the first instant of
the day. Periods are returned as aware UTC datetimes, which is how they are stored and keyed:
a day in a DST change lasts 23 or 25 hours, and that is right.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Period(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def period_bounds(period: Period, time_zone: str, at: datetime) -> tuple[datetime, datetime]:
    """The period containing the aware instant `at`: (start, end), end exclusive, in UTC."""
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    zone = ZoneInfo(time_zone)
    first = _first_day(period, at.astimezone(zone).date())
    return _day_start(first, zone), _day_start(_next_first_day(period, first), zone)


def period_start(period: Period, time_zone: str, at: datetime) -> datetime:
    return period_bounds(period, time_zone, at)[0]


def _first_day(period: Period, day: date) -> date:
    if period is Period.DAILY:
        return day
    if period is Period.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_first_day(period: Period, first: date) -> date:
    if period is Period.DAILY:
        return first + timedelta(days=1)
    if period is Period.WEEKLY:
        return first + timedelta(days=7)
    if first.month == 12:
        return date(first.year + 1, 1, 1)
    return date(first.year, first.month + 1, 1)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """An instant in UTC. SQLite keeps no offset, so what it gives back is naive UTC: every
    instant is bound to SQL in UTC (through this) and read back through this."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
