"""What a spend report asks for: a time range, the dimensions to group by, and filters.

Days are whole UTC days, because the aggregates are kept per UTC day. A range is widened to the
days it touches: it covers [start's UTC day, end's UTC day) when `end` is exactly midnight UTC,
and [start's UTC day, end's UTC day + 1) otherwise. So [Mar 1 00:00, Mar 2 00:00) is March 1
alone, and [Mar 1 00:00, now) includes today so far. `start_day` and `end_day` (exclusive) say
which days a query covers; a client that needs exact instants must ask at midnights UTC.
Naive datetimes are taken as UTC (protobuf's `Timestamp.ToDatetime()` returns naive UTC).

Dimensions (the group's keys in a report, by these names):
- `tenant`, `subject`, `model`, `endpoint`: the column's value;
- `prompt_version`: prompt name and version, rendered "name@version" ("" for calls made
  without a stored prompt);
- `flag_variant`: a flag and its variant, rendered "key=variant", read from the per-flag
  aggregate, which does not carry subject, endpoint or prompt, so it cannot be combined with
  those (nor filtered by subject);
- `day`: the UTC day, ISO 8601 ("2024-03-01"): a daily time series.

A `SpendQuery` is validated when it is built: every problem is reported at once as one
`InvalidArgument` naming the fields of `GetSpendRequest` (`start`, `end`, `group_by`,
`subject`). Empty filters mean "any", as in proto3.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from svckit.errors import InvalidArgument, Violations

MAX_DAYS = 400
"""Longest range, in days: a year and a bit, so year-over-year fits and scans stay bounded."""

MAX_DIMENSIONS = 4
"""Most dimensions in one report: beyond that the groups are rows of the aggregate itself."""


class Dimension(StrEnum):
    TENANT = "tenant"
    SUBJECT = "subject"
    MODEL = "model"
    ENDPOINT = "endpoint"
    PROMPT_VERSION = "prompt_version"
    FLAG_VARIANT = "flag_variant"
    DAY = "day"

    @classmethod
    def from_proto(cls, number: int) -> Dimension:
        """The dimension of a `SpendDimension` enum number; UNSPECIFIED or unknown is refused."""
        found = _BY_PROTO_NUMBER.get(number)
        if found is None:
            raise InvalidArgument.field("group_by", f"unknown or unspecified dimension {number}")
        return found


_BY_PROTO_NUMBER = {
    1: Dimension.TENANT,
    2: Dimension.SUBJECT,
    3: Dimension.MODEL,
    4: Dimension.ENDPOINT,
    5: Dimension.PROMPT_VERSION,
    6: Dimension.FLAG_VARIANT,
    7: Dimension.DAY,
}
"""SpendDimension's numbers in cost_service.proto (a test holds the two together)."""

NOT_IN_FLAG_AGGREGATE = frozenset({Dimension.SUBJECT, Dimension.ENDPOINT, Dimension.PROMPT_VERSION})
"""Dimensions `cost_spend_flag_daily` does not carry."""


@dataclass(frozen=True)
class SpendQuery:
    start: datetime
    end: datetime
    group_by: tuple[Dimension, ...] = ()
    tenant: str = ""
    subject: str = ""
    model: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _as_utc(self.start))
        object.__setattr__(self, "end", _as_utc(self.end))
        violations = Violations()
        object.__setattr__(self, "group_by", _dimensions(self.group_by, violations))
        self._check_range(violations)
        self._check_flag_variant(violations)
        violations.raise_if_any()

    @property
    def start_day(self) -> date:
        """The first UTC day covered."""
        return self.start.date()

    @property
    def end_day(self) -> date:
        """The first UTC day not covered (exclusive): `end`'s day, or the next when `end` is
        not exactly midnight."""
        day = self.end.date()
        return day if self.end == _midnight(day) else day + timedelta(days=1)

    @property
    def by_flag(self) -> bool:
        """Whether the report reads the per-flag aggregate."""
        return Dimension.FLAG_VARIANT in self.group_by

    def _check_range(self, violations: Violations) -> None:
        if self.start >= self.end:
            violations.add("end", "must be after start")
        elif (self.end_day - self.start_day).days > MAX_DAYS:
            violations.add("end", f"the range must cover at most {MAX_DAYS} UTC days")

    def _check_flag_variant(self, violations: Violations) -> None:
        if not self.by_flag:
            return
        clash = sorted({d.value for d in self.group_by if d in NOT_IN_FLAG_AGGREGATE})
        if clash:
            violations.add(
                "group_by",
                f"flag_variant cannot be combined with {', '.join(clash)}: "
                "spend per flag is not kept by those",
            )
        if self.subject:
            violations.add("subject", "cannot filter by subject when grouping by flag_variant")


def _dimensions(given: tuple[Dimension, ...], violations: Violations) -> tuple[Dimension, ...]:
    """The dimensions as `Dimension`s (names are accepted too), checked for size and repeats."""
    found: list[Dimension] = []
    for item in given:
        try:
            found.append(Dimension(item))
        except ValueError:
            violations.add("group_by", f"unknown dimension {item!r}")
    if len(found) > MAX_DIMENSIONS:
        violations.add("group_by", f"at most {MAX_DIMENSIONS} dimensions")
    repeated = sorted({d.value for d in found if found.count(d) > 1})
    if repeated:
        violations.add("group_by", f"repeated dimension: {', '.join(repeated)}")
    return tuple(found)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)
