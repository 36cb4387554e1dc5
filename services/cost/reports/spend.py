"""Spend reports: one GROUP BY over the daily aggregates, in SQLAlchemy Core.

Decisions:
- Rows are per group *and currency*: money in two currencies is never added. `group` holds
  only the dimensions asked for (by name, rendered as `query` describes); the row's `currency`
  says which money it is. With no dimension there is one row per currency.
- Totals are per currency. For most reports they are the sums of the rows. A `flag_variant`
  report's rows overlap (a call under two flags counts under each) and miss calls under no
  flag, so its totals are the real spend in the range and filters, read from
  `cost_spend_daily` in the same statement (UNION ALL: one snapshot).
- Rows are sorted in Python by the groups' typed values (strings by code point, prompt version
  as a number, day as a date), then currency, so SQLite and PostgreSQL (whose collations
  differ) give identical reports.
- Days without spend have no row: a daily series is sparse; a chart fills the gaps.
- Sums come back from PostgreSQL as NUMERIC (Decimal) and from SQLite as int; both become int,
  exactly. Money never passes through a float.
- Latency is kept as a sum (`latency_ms`) and divided only here, at the end (`mean_latency_ms`):
  a mean of the daily means would weigh a quiet day like a busy one. Aggregate rows written
  before migration 0002 hold 0 latency until `RebuildAggregates` recomputes them, so a report
  over such days understates the mean. Latency is a measurement, not money: the mean is a float.
- A report larger than `max_rows` groups is refused (FAILED_PRECONDITION, reason
  SPEND_REPORT_TOO_LARGE) rather than built in memory: narrow the range or the grouping. So is
  a reply (GetSpend's message, ExportSpend's file) larger than `max_bytes` once encoded, which
  the client would refuse to receive; `check_size` says so before it is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Table,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.money import Money
from services.cost.reports.query import Dimension, SpendQuery
from services.cost.tables import spend_daily, spend_flag_daily
from svckit.errors import FailedPrecondition

MAX_ROWS = 100_000
"""Most groups in one report: bounds the memory of building it, not what a client receives.
The reply is bounded by `MAX_REPORT_BYTES`, which a report reaches first when its groups are
long: a GetSpend reply takes about 105 bytes a group grouped by day and subject (a year of
daily spend of 150 subjects, 54,750 groups, is 5.7 MB; 100,000 such groups fit), more with
more or longer dimensions."""
MAX_REPORT_BYTES = 16 * 1024 * 1024
"""Largest encoded reply of GetSpend or ExportSpend (16 MiB). Our services' channels accept it
(`svckit.channels.MAX_RECEIVE_MESSAGE_BYTES`); other clients must raise gRPC's default
receive limit (4 MiB) to read reports above that."""


@dataclass(frozen=True, slots=True)
class Measures:
    """What the aggregates count, summed. `cost_nanos` excludes unpriced requests' cost."""

    cost_nanos: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    requests: int = 0
    unpriced_requests: int = 0
    latency_ms: int = 0
    """The requests' latencies added up; see `mean_latency_ms`."""

    def __add__(self, other: Measures) -> Measures:
        return Measures(*(getattr(self, n) + getattr(other, n) for n in MEASURE_NAMES))

    @property
    def mean_latency_ms(self) -> float:
        """Mean latency per request: the total over `requests` (so weighted by requests, right
        for any grouping of the aggregates' rows); 0.0 when there are no requests."""
        return self.latency_ms / self.requests if self.requests else 0.0


MEASURE_NAMES = tuple(f.name for f in fields(Measures))


@dataclass(frozen=True)
class SpendRow:
    group: Mapping[str, str]
    """The group's value per dimension asked for, by the dimension's name."""
    currency: str
    measures: Measures

    @property
    def cost(self) -> Money:
        return Money(self.currency, self.measures.cost_nanos)


@dataclass(frozen=True)
class SpendResult:
    query: SpendQuery
    rows: tuple[SpendRow, ...]
    totals: Mapping[str, Measures]
    """Per currency, in currency order."""

    def total(self) -> Money | None:
        """The total for `GetSpendResponse.total`, whose one Money holds one currency: None
        when the report holds no spend or spend in several currencies (then the rows, each in
        its currency, are the answer)."""
        if len(self.totals) != 1:
            return None
        [(currency, measures)] = self.totals.items()
        return Money(currency, measures.cost_nanos)


_COLUMNS: Mapping[Dimension, tuple[str, ...]] = {
    Dimension.TENANT: ("tenant",),
    Dimension.SUBJECT: ("subject",),
    Dimension.MODEL: ("model",),
    Dimension.ENDPOINT: ("endpoint",),
    Dimension.PROMPT_VERSION: ("prompt_name", "prompt_version"),
    Dimension.FLAG_VARIANT: ("flag_key", "variant"),
    Dimension.DAY: ("day",),
}
"""The aggregate columns behind each dimension."""


class SpendReport:
    """Reports from the aggregates behind `engine` (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_rows: int = MAX_ROWS,
        max_bytes: int = MAX_REPORT_BYTES,
    ) -> None:
        self._engine = engine
        self._max_rows = max_rows
        self._max_bytes = max_bytes

    def check_size(self, encoded_bytes: int) -> None:
        """Refuses a reply of `encoded_bytes` larger than `max_bytes`: the client would."""
        if encoded_bytes > self._max_bytes:
            raise FailedPrecondition(
                f"the report is {encoded_bytes} bytes encoded, more than {self._max_bytes}: "
                "narrow the range, filter, or group by fewer dimensions",
                reason="SPEND_REPORT_TOO_LARGE",
                metadata={"max_bytes": str(self._max_bytes)},
            )

    async def get(self, query: SpendQuery) -> SpendResult:
        keyed: list[tuple[tuple[Any, ...], SpendRow]] = []
        flag_totals: dict[str, Measures] = {}
        async with self._engine.connect() as conn:
            result = await conn.stream(_statement(query))
            async for record in result:
                is_total, key, currency, measures = _split(record, _key_width(query))
                if is_total:
                    flag_totals[currency] = measures
                    continue
                if len(keyed) == self._max_rows:
                    raise _too_large(self._max_rows)
                keyed.append(((*key, currency), SpendRow(_group(query, key), currency, measures)))
        keyed.sort(key=lambda item: item[0])
        rows = tuple(row for _, row in keyed)
        totals = flag_totals if query.by_flag else _sum_by_currency(rows)
        return SpendResult(query, rows, dict(sorted(totals.items())))


def _statement(query: SpendQuery) -> Select[Any] | CompoundSelect[Any]:
    """The rows' GROUP BY, and for a flag report the real totals after them (`is_total` 1)."""
    table = spend_flag_daily if query.by_flag else spend_daily
    keys = [table.c[name] for d in query.group_by for name in _COLUMNS[d]]
    rows = (
        select(
            literal_column("0").label("is_total"),
            *(key.label(f"k{i}") for i, key in enumerate(keys)),
            table.c.currency,
            *_sums(table),
        )
        .where(*_filters(table, query))
        .group_by(*keys, table.c.currency)
    )
    if not query.by_flag:
        return rows
    totals = (
        select(
            literal_column("1").label("is_total"),
            *(cast(null(), key.type).label(f"k{i}") for i, key in enumerate(keys)),
            spend_daily.c.currency,
            *_sums(spend_daily),
        )
        .where(*_filters(spend_daily, query))
        .group_by(spend_daily.c.currency)
    )
    return union_all(rows, totals)


def _sums(table: Table) -> list[ColumnElement[Any]]:
    return [func.sum(table.c[name]).label(name) for name in MEASURE_NAMES]


def _filters(table: Table, query: SpendQuery) -> list[ColumnElement[bool]]:
    found = [table.c.day >= query.start_day, table.c.day < query.end_day]
    for name in ("tenant", "subject", "model"):
        value: str = getattr(query, name)
        if value:
            found.append(table.c[name] == value)
    return found


def _key_width(query: SpendQuery) -> int:
    return sum(len(_COLUMNS[d]) for d in query.group_by)


def _split(record: Sequence[Any], width: int) -> tuple[bool, tuple[Any, ...], str, Measures]:
    """A result row as (is a total, group key values, currency, measures)."""
    key = tuple(record[1 : 1 + width])
    measures = Measures(*(int(value) for value in record[2 + width :]))
    return bool(record[0]), key, str(record[1 + width]), measures


def _group(query: SpendQuery, key: tuple[Any, ...]) -> dict[str, str]:
    group: dict[str, str] = {}
    position = 0
    for dimension in query.group_by:
        width = len(_COLUMNS[dimension])
        group[dimension.value] = _render(dimension, key[position : position + width])
        position += width
    return group


def _render(dimension: Dimension, values: tuple[Any, ...]) -> str:
    if dimension is Dimension.PROMPT_VERSION:
        return f"{values[0]}@{values[1]}" if values[0] else ""
    if dimension is Dimension.FLAG_VARIANT:
        return f"{values[0]}={values[1]}"
    if dimension is Dimension.DAY:
        day: date = values[0]
        return day.isoformat()
    return str(values[0])


def _sum_by_currency(rows: Iterable[SpendRow]) -> dict[str, Measures]:
    totals: dict[str, Measures] = {}
    for row in rows:
        totals[row.currency] = totals.get(row.currency, Measures()) + row.measures
    return totals


def _too_large(max_rows: int) -> FailedPrecondition:
    return FailedPrecondition(
        f"the report has more than {max_rows} groups: narrow the range, filter, "
        "or group by fewer dimensions",
        reason="SPEND_REPORT_TOO_LARGE",
        metadata={"max_rows": str(max_rows)},
    )
