"""Spend reports over the aggregates, on SQLite and on PostgreSQL (the `engine` fixture).

Literal expectations pin the rendering and the order; a small independent model of the report
(`expected`, plain Python over the rows the fixture inserted) checks every dimension and
combination without writing each out by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.money import Money
from services.cost.reports.query import Dimension, SpendQuery
from services.cost.reports.spend import Measures, SpendReport, SpendResult
from svckit.errors import FailedPrecondition

from .conftest import (
    APR1,
    BIG,
    FEB29,
    FLAG_ROWS,
    MAR1,
    MAR2,
    MAR3,
    MAR31,
    SPEND_ROWS,
    filled_engine,
    sqlite_url,
    utc,
)

D = Dimension
MARCH_1_TO_3 = (utc(MAR1), utc(MAR3 + timedelta(days=1)))
USD_MAR1_TO_3 = Measures(
    cost_nanos=9_007_203_139_308_926,
    input_tokens=1858,
    output_tokens=381,
    cached_tokens=100,
    requests=10,
    unpriced_requests=2,
    latency_ms=900 + 250 + 35 + 500 + 61 + 111,
)
EUR_MAR1_TO_3 = Measures(777_000_000, 40, 4, 0, 1, 0, 700)


def march(*group_by: Dimension, tenant: str = "", subject: str = "", model: str = "") -> SpendQuery:
    """March 1 to 3, the days most rows are on."""
    return SpendQuery(*MARCH_1_TO_3, group_by=group_by, tenant=tenant, subject=subject, model=model)


def table(result: SpendResult) -> list[tuple[dict[str, str], str, int]]:
    return [(dict(row.group), row.currency, row.measures.cost_nanos) for row in result.rows]


# An independent model of a report: filter, render, add up, in plain Python.


def _render(dimension: Dimension, row: dict[str, Any]) -> str:
    if dimension is D.PROMPT_VERSION:
        return f"{row['prompt_name']}@{row['prompt_version']}" if row["prompt_name"] else ""
    if dimension is D.FLAG_VARIANT:
        return f"{row['flag_key']}={row['variant']}"
    if dimension is D.DAY:
        return str(row["day"])
    return str(row[dimension.value])


def _selected(query: SpendQuery, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        in_range = query.start_day <= row["day"] < query.end_day
        filters = [(n, getattr(query, n)) for n in ("tenant", "subject", "model")]
        if in_range and all(not value or row[n] == value for n, value in filters):
            yield row


def _measures(row: dict[str, Any]) -> Measures:
    return Measures(
        row["cost_nanos"],
        row["input_tokens"],
        row["output_tokens"],
        row["cached_tokens"],
        row["requests"],
        row["unpriced_requests"],
        row["latency_ms"],
    )


def expected(query: SpendQuery) -> dict[tuple[tuple[tuple[str, str], ...], str], Measures]:
    source = FLAG_ROWS if query.by_flag else SPEND_ROWS
    found: dict[tuple[tuple[tuple[str, str], ...], str], Measures] = {}
    for row in _selected(query, source):
        group = tuple((d.value, _render(d, row)) for d in query.group_by)
        key = (group, row["currency"])
        found[key] = found.get(key, Measures()) + _measures(row)
    return found


def expected_totals(query: SpendQuery) -> dict[str, Measures]:
    totals: dict[str, Measures] = {}
    for row in _selected(query, SPEND_ROWS):
        totals[row["currency"]] = totals.get(row["currency"], Measures()) + _measures(row)
    return totals


def actual(result: SpendResult) -> dict[tuple[tuple[tuple[str, str], ...], str], Measures]:
    return {(tuple(row.group.items()), row.currency): row.measures for row in result.rows}


GROUPINGS = [
    (),
    (D.TENANT,),
    (D.SUBJECT,),
    (D.MODEL,),
    (D.ENDPOINT,),
    (D.PROMPT_VERSION,),
    (D.DAY,),
    (D.TENANT, D.DAY),
    (D.DAY, D.TENANT),
    (D.MODEL, D.ENDPOINT),
    (D.SUBJECT, D.PROMPT_VERSION),
    (D.TENANT, D.SUBJECT, D.MODEL, D.DAY),
    (D.ENDPOINT, D.PROMPT_VERSION, D.MODEL),
]
FLAG_GROUPINGS = [
    (D.FLAG_VARIANT,),
    (D.FLAG_VARIANT, D.DAY),
    (D.TENANT, D.FLAG_VARIANT),
    (D.FLAG_VARIANT, D.MODEL, D.TENANT, D.DAY),
]


def _name(group_by: tuple[Dimension, ...]) -> str:
    return "+".join(d.value for d in group_by) or "nothing"


# Without grouping: the range's spend, one row per currency.


async def test_ungrouped_report_has_one_row_per_currency(report: SpendReport) -> None:
    result = await report.get(march())

    assert [(row.group, row.currency, row.measures) for row in result.rows] == [
        ({}, "EUR", EUR_MAR1_TO_3),
        ({}, "USD", USD_MAR1_TO_3),
    ]
    assert result.totals == {"EUR": EUR_MAR1_TO_3, "USD": USD_MAR1_TO_3}


async def test_money_beyond_a_floats_precision_is_summed_exactly(report: SpendReport) -> None:
    result = await report.get(march(D.SUBJECT, model="embed-3"))

    assert [row.cost for row in result.rows] == [Money("USD", BIG)]
    assert result.total() == Money("USD", BIG)


# Each dimension, rendered and ordered.


async def test_tenants_sort_by_code_point_on_every_database(report: SpendReport) -> None:
    result = await report.get(march(D.TENANT))

    assert [(row.group["tenant"], row.currency) for row in result.rows] == [
        ("Zeta", "USD"),
        ("acme", "USD"),
        ("alpha", "USD"),
        ("beta", "EUR"),
    ]


async def test_subjects_group_spend_per_charged_subject(report: SpendReport) -> None:
    result = await report.get(march(D.SUBJECT, tenant="acme"))

    assert table(result) == [
        ({"subject": "users/ann"}, "USD", 2_500_000_000 + 1_234_567_891),
        ({"subject": "users/bob"}, "USD", 150_000_000),
    ]


async def test_models_count_unpriced_requests_apart(report: SpendReport) -> None:
    result = await report.get(march(D.MODEL, tenant="acme"))

    by_model = {row.group["model"]: row.measures for row in result.rows}
    assert list(by_model) == ["gpt-4o", "gpt-4o-mini", "mystery"]
    assert by_model["mystery"] == Measures(0, 50, 50, 0, 2, 2, 61)
    assert by_model["gpt-4o"].unpriced_requests == 0


async def test_endpoints_group_spend_per_api_route(report: SpendReport) -> None:
    result = await report.get(march(D.ENDPOINT))

    assert [(row.group["endpoint"], row.currency) for row in result.rows] == [
        ("/v1/chat/completions", "EUR"),
        ("/v1/chat/completions", "USD"),
        ("/v1/embeddings", "USD"),
    ]


async def test_prompt_versions_render_name_at_version_in_numeric_order(
    report: SpendReport,
) -> None:
    result = await report.get(march(D.PROMPT_VERSION, tenant="acme"))

    assert table(result) == [
        ({"prompt_version": ""}, "USD", 0),
        ({"prompt_version": "summarize@9"}, "USD", 2_500_000_000),
        ({"prompt_version": "summarize@10"}, "USD", 150_000_000 + 1_234_567_891),
    ]


async def test_days_make_a_sparse_daily_series(report: SpendReport) -> None:
    query = SpendQuery(utc(MAR1), utc(APR1), group_by=(D.DAY,), tenant="acme")

    result = await report.get(query)

    assert table(result) == [
        ({"day": "2024-03-01"}, "USD", 2_650_000_000),
        ({"day": "2024-03-02"}, "USD", 1_234_567_891),
        ({"day": "2024-03-31"}, "USD", 5),
    ]


async def test_flag_variants_render_key_equals_variant(report: SpendReport) -> None:
    result = await report.get(march(D.FLAG_VARIANT))

    assert table(result) == [
        ({"flag_variant": "model-exp=b"}, "USD", 2_500_000_000),
        ({"flag_variant": "new-prompt=off"}, "USD", 150_000_000),
        ({"flag_variant": "new-prompt=on"}, "EUR", 777_000_000),
        ({"flag_variant": "new-prompt=on"}, "USD", 2_500_000_000),
    ]


async def test_flag_variant_totals_are_the_real_spend_not_the_overlapping_rows(
    report: SpendReport,
) -> None:
    result = await report.get(march(D.FLAG_VARIANT))

    rows_usd = sum(row.measures.cost_nanos for row in result.rows if row.currency == "USD")
    assert rows_usd == 5_150_000_000
    assert result.totals == {"EUR": EUR_MAR1_TO_3, "USD": USD_MAR1_TO_3}


async def test_flag_variant_totals_follow_the_filters(report: SpendReport) -> None:
    result = await report.get(march(D.FLAG_VARIANT, D.DAY, tenant="acme", model="gpt-4o-mini"))

    assert table(result) == [
        ({"flag_variant": "new-prompt=off", "day": "2024-03-01"}, "USD", 150_000_000)
    ]
    assert result.totals == {"USD": Measures(150_000_000, 500, 100, 0, 2, 0, 250)}


# Latency: summed like tokens, divided per request at the end.


def latencies(result: SpendResult) -> list[tuple[str, str, int, int, float]]:
    """(group, currency, latency total, requests, mean) per row, the group as one string."""
    return [
        (
            ",".join(row.group.values()),
            row.currency,
            row.measures.latency_ms,
            row.measures.requests,
            row.measures.mean_latency_ms,
        )
        for row in result.rows
    ]


async def test_mean_latency_per_prompt_version_weighs_every_request_alike(
    report: SpendReport,
) -> None:
    result = await report.get(march(D.PROMPT_VERSION, tenant="acme"))

    # summarize@10: 250 ms over 2 calls on March 1 and 500 ms over 1 on March 2: the mean is
    # 750 / 3 = 250, not the mean of the days' means ((125 + 500) / 2).
    assert latencies(result) == [
        ("", "USD", 61, 2, 30.5),
        ("summarize@9", "USD", 900, 3, 300.0),
        ("summarize@10", "USD", 750, 3, 250.0),
    ]


async def test_mean_latency_per_flag_variant(report: SpendReport) -> None:
    result = await report.get(SpendQuery(utc(FEB29), utc(MAR3), group_by=(D.FLAG_VARIANT,)))

    assert latencies(result) == [
        ("model-exp=b", "USD", 900, 3, 300.0),
        ("new-prompt=off", "USD", 250, 2, 125.0),
        ("new-prompt=on", "EUR", 700, 1, 700.0),
        ("new-prompt=on", "USD", 1_300, 4, 325.0),
    ]
    # the totals are the real calls' latency (from the daily aggregate), not the rows' sum
    assert result.totals["USD"].latency_ms == 400 + 900 + 250 + 35 + 500 + 61


async def test_mean_latency_per_flag_variant_and_day(report: SpendReport) -> None:
    result = await report.get(march(D.FLAG_VARIANT, D.DAY, tenant="acme", model="gpt-4o"))

    assert latencies(result) == [
        ("model-exp=b,2024-03-01", "USD", 900, 3, 300.0),
        ("new-prompt=on,2024-03-01", "USD", 900, 3, 300.0),
    ]


def test_mean_latency_is_zero_without_requests_and_weighted_when_added() -> None:
    quiet = Measures(requests=1, latency_ms=1_000)
    busy = Measures(requests=9, latency_ms=900)

    assert Measures().mean_latency_ms == 0.0
    assert Measures(latency_ms=5).mean_latency_ms == 0.0
    assert (quiet + busy).mean_latency_ms == 190.0
    assert (quiet + busy).latency_ms == 1_900


# Combinations: the group_by order is the sort order.


async def test_group_by_order_decides_the_row_order(report: SpendReport) -> None:
    by_tenant = await report.get(march(D.TENANT, D.DAY))
    by_day = await report.get(march(D.DAY, D.TENANT))

    assert [(r.group["tenant"], r.group["day"]) for r in by_tenant.rows] == [
        ("Zeta", "2024-03-01"),
        ("acme", "2024-03-01"),
        ("acme", "2024-03-02"),
        ("alpha", "2024-03-03"),
        ("beta", "2024-03-02"),
    ]
    assert [(r.group["day"], r.group["tenant"]) for r in by_day.rows] == [
        ("2024-03-01", "Zeta"),
        ("2024-03-01", "acme"),
        ("2024-03-02", "acme"),
        ("2024-03-02", "beta"),
        ("2024-03-03", "alpha"),
    ]
    assert list(by_tenant.rows[0].group) == ["tenant", "day"]
    assert list(by_day.rows[0].group) == ["day", "tenant"]


@pytest.mark.parametrize("group_by", GROUPINGS + FLAG_GROUPINGS, ids=_name)
async def test_every_grouping_matches_a_plain_sum_of_the_aggregate(
    report: SpendReport, group_by: tuple[Dimension, ...]
) -> None:
    query = SpendQuery(utc(FEB29), utc(APR1, 12), group_by=group_by)

    result = await report.get(query)

    assert actual(result) == expected(query)
    assert result.totals == expected_totals(query)


@pytest.mark.parametrize("group_by", GROUPINGS, ids=_name)
async def test_totals_equal_the_sums_of_the_rows(
    report: SpendReport, group_by: tuple[Dimension, ...]
) -> None:
    result = await report.get(march(*group_by))

    summed: dict[str, Measures] = {}
    for row in result.rows:
        summed[row.currency] = summed.get(row.currency, Measures()) + row.measures
    assert result.totals == summed == {"EUR": EUR_MAR1_TO_3, "USD": USD_MAR1_TO_3}


# Filters.


@pytest.mark.parametrize(
    "filters",
    [
        {"tenant": "acme"},
        {"subject": "users/ann"},
        {"model": "gpt-4o"},
        {"tenant": "acme", "subject": "users/ann", "model": "gpt-4o"},
        {"tenant": "beta", "model": "gpt-4o"},
    ],
    ids=lambda f: "+".join(f),
)
async def test_filters_keep_only_matching_spend(
    report: SpendReport, filters: dict[str, str]
) -> None:
    query = march(D.TENANT, D.SUBJECT, D.MODEL, **filters)

    result = await report.get(query)

    assert result.rows
    for row in result.rows:
        assert {k: row.group[k] for k in filters} == filters
    assert actual(result) == expected(query)


async def test_a_filter_matching_nothing_gives_an_empty_report(report: SpendReport) -> None:
    result = await report.get(march(D.MODEL, tenant="nobody"))

    assert result.rows == ()
    assert result.totals == {}
    assert result.total() is None


async def test_total_is_one_money_only_when_one_currency_was_spent(report: SpendReport) -> None:
    two_currencies = await report.get(march())
    dollars_only = await report.get(march(tenant="acme"))

    assert two_currencies.total() is None
    assert dollars_only.total() == Money("USD", 2_500_000_000 + 150_000_000 + 1_234_567_891)


# Time range edges: whole UTC days.


async def _days(report: SpendReport, start: datetime, end: datetime) -> list[str]:
    result = await report.get(SpendQuery(start, end, group_by=(D.DAY,)))
    return sorted({row.group["day"] for row in result.rows})


async def test_an_end_at_midnight_excludes_that_day(report: SpendReport) -> None:
    assert await _days(report, utc(MAR1), utc(MAR2)) == ["2024-03-01"]


async def test_an_end_after_midnight_includes_that_whole_day(report: SpendReport) -> None:
    end = utc(MAR2, microsecond=1)

    assert await _days(report, utc(MAR1), end) == ["2024-03-01", "2024-03-02"]


async def test_a_start_within_a_day_includes_that_whole_day(report: SpendReport) -> None:
    assert await _days(report, utc(FEB29, 23, 59), utc(MAR1)) == ["2024-02-29"]


async def test_offsets_are_converted_to_utc_days(report: SpendReport) -> None:
    paris = timezone(timedelta(hours=2))
    start = datetime(2024, 3, 2, 1, 0, tzinfo=paris)  # Mar 1, 23:00 UTC
    end = datetime(2024, 3, 3, 2, 0, tzinfo=paris)  # Mar 3, 00:00 UTC

    assert await _days(report, start, end) == ["2024-03-01", "2024-03-02"]


async def test_naive_datetimes_are_taken_as_utc(report: SpendReport) -> None:
    assert await _days(report, datetime(2024, 3, 31), datetime(2024, 4, 1)) == ["2024-03-31"]


async def test_a_month_range_leaves_out_its_neighbours(report: SpendReport) -> None:
    days = await _days(report, utc(MAR1), utc(APR1))

    assert days == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-31"]
    assert date.fromisoformat(days[-1]) == MAR31


# Size limit.


async def test_a_report_larger_than_max_rows_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(FailedPrecondition) as raised:
        await SpendReport(engine, max_rows=2).get(march(D.DAY))

    assert raised.value.reason == "SPEND_REPORT_TOO_LARGE"
    assert raised.value.metadata == {"max_rows": "2"}


async def test_a_report_of_exactly_max_rows_is_answered(engine: AsyncEngine) -> None:
    result = await SpendReport(engine, max_rows=4).get(march(D.DAY))

    assert len(result.rows) == 4


# The two databases, side by side.


async def test_sqlite_and_postgresql_give_identical_reports(
    tmp_path: Path, postgres_url: str
) -> None:
    sqlite = await filled_engine(sqlite_url(tmp_path))
    postgres = await filled_engine(postgres_url)
    try:
        for group_by in GROUPINGS + FLAG_GROUPINGS:
            query = SpendQuery(utc(FEB29), utc(APR1, 1), group_by=group_by)
            from_sqlite = await SpendReport(sqlite).get(query)
            from_postgres = await SpendReport(postgres).get(query)
            assert from_sqlite == from_postgres, group_by
            assert from_sqlite.rows, group_by
    finally:
        await sqlite.dispose()
        await postgres.dispose()
