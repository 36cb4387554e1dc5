"""Spend reports as files: CSV that reads back exactly and cannot run as a spreadsheet formula,
and JSON; latency as its total and its mean per request."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from services.cost.reports.export import (
    CSV_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    decimal_units,
    export_spend,
)
from services.cost.reports.query import Dimension, SpendQuery
from services.cost.reports.spend import Measures, SpendReport, SpendResult, SpendRow
from svckit.errors import InvalidArgument

from .conftest import BIG

D = Dimension
QUERY = SpendQuery(
    datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC), group_by=(D.TENANT, D.DAY)
)
HEADER = [
    "tenant",
    "day",
    "currency",
    "cost",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "requests",
    "unpriced_requests",
    "latency_ms_total",
    "mean_latency_ms",
]


def result_of(*tenants: str, query: SpendQuery = QUERY) -> SpendResult:
    rows = tuple(
        SpendRow(
            {"tenant": t, "day": "2024-03-01"}, "USD", Measures(1_500_000_000, 1, 2, 3, 4, 5, 1_001)
        )
        for t in tenants
    )
    return SpendResult(query, rows, {"USD": Measures()})


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def test_csv_has_a_header_and_one_record_per_row() -> None:
    content_type, content = export_spend(result_of("acme", "beta"))

    assert content_type == CSV_CONTENT_TYPE
    assert read_csv(content) == [
        HEADER,
        ["acme", "2024-03-01", "USD", "1.500000000", "1", "2", "3", "4", "5", "1001", "250.250"],
        ["beta", "2024-03-01", "USD", "1.500000000", "1", "2", "3", "4", "5", "1001", "250.250"],
    ]


def test_csv_ends_lines_with_crlf_as_rfc_4180_says() -> None:
    _, content = export_spend(result_of("acme"))

    assert content.count(b"\r\n") == 2
    assert content.endswith(b"\r\n")


@pytest.mark.parametrize(
    "tenant",
    ['say "hi"', "a,b", "two\nlines", "café ☕", " spaced "],
    ids=["quote", "comma", "newline", "unicode", "spaces"],
)
def test_csv_quotes_awkward_text_so_it_reads_back_unchanged(tenant: str) -> None:
    _, content = export_spend(result_of(tenant))

    assert read_csv(content)[1][0] == tenant


def test_csv_quotes_only_cells_that_need_it() -> None:
    _, content = export_spend(result_of('say "hi"'))

    assert content.decode().splitlines()[1].startswith('"say ""hi""",2024-03-01,USD,')


@pytest.mark.parametrize(
    "tenant", ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
)
def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote_prefix(tenant: str) -> None:
    _, content = export_spend(result_of(tenant))

    assert read_csv(content)[1][0] == "'" + tenant


def test_csv_leaves_harmless_text_and_numbers_alone() -> None:
    _, content = export_spend(result_of("a=b", "x-1"))

    cells = read_csv(content)
    assert [cells[1][0], cells[2][0]] == ["a=b", "x-1"]
    assert cells[1][3:] == ["1.500000000", "1", "2", "3", "4", "5", "1001", "250.250"]


def test_an_empty_report_is_a_header_only_csv_and_an_empty_json_list() -> None:
    empty = result_of()

    assert read_csv(export_spend(empty, "csv").content) == [HEADER]
    assert json.loads(export_spend(empty, "json").content) == []


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0.000000000"),
        (1, "0.000000001"),
        (1_500_000_000, "1.500000000"),
        (BIG, "9007199.254740993"),
        (-1, "-0.000000001"),
    ],
)
def test_money_is_decimal_units_with_nine_decimals(nanos: int, text: str) -> None:
    assert decimal_units(nanos) == text


def test_json_is_a_list_of_objects_with_the_csv_fields() -> None:
    content_type, content = export_spend(result_of("=café"), "json")

    assert content_type == JSON_CONTENT_TYPE
    [record] = json.loads(content)
    assert list(record) == HEADER
    assert record == {
        "tenant": "=café",
        "day": "2024-03-01",
        "currency": "USD",
        "cost": "1.500000000",
        "input_tokens": 1,
        "output_tokens": 2,
        "cached_tokens": 3,
        "requests": 4,
        "unpriced_requests": 5,
        "latency_ms_total": 1_001,
        "mean_latency_ms": 250.25,
    }
    assert "café".encode() in content


@pytest.mark.parametrize(
    ("given", "content_type"),
    [("", CSV_CONTENT_TYPE), ("JSON", JSON_CONTENT_TYPE), (" csv ", CSV_CONTENT_TYPE)],
)
def test_format_defaults_to_csv_and_ignores_case(given: str, content_type: str) -> None:
    assert export_spend(result_of("acme"), given).content_type == content_type


def test_an_unknown_format_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidArgument) as raised:
        export_spend(result_of("acme"), "xlsx")

    assert [v.field for v in raised.value.violations] == ["format"]


async def test_a_report_from_the_database_reads_back_to_its_exact_numbers(
    report: SpendReport,
) -> None:
    query = SpendQuery(
        datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC), group_by=(D.MODEL,)
    )
    result = await report.get(query)

    records = read_csv(export_spend(result).content)
    from_json = json.loads(export_spend(result, "json").content)

    assert records[0][:3] == ["model", "currency", "cost"]
    assert [(r[0], r[1], r[2]) for r in records[1:]] == [
        (row.group["model"], row.currency, decimal_units(row.measures.cost_nanos))
        for row in result.rows
    ]
    assert ("embed-3", "USD", "9007199.254740993") in [(r[0], r[1], r[2]) for r in records]
    assert [r["cost"] for r in from_json] == [r[2] for r in records[1:]]


@pytest.mark.parametrize(
    ("measures", "text", "number"),
    [
        (Measures(requests=3, latency_ms=1_000), "333.333", 333.333),
        (Measures(requests=3, latency_ms=2_000), "666.667", 666.667),
        (Measures(requests=7, latency_ms=7), "1.000", 1.0),
        (Measures(requests=0, latency_ms=0), "0.000", 0.0),
    ],
    ids=["rounded-down", "rounded-up", "whole", "no-requests"],
)
def test_mean_latency_has_three_decimals_in_csv_and_json(
    measures: Measures, text: str, number: float
) -> None:
    result = SpendResult(QUERY, (SpendRow({"tenant": "a", "day": "d"}, "USD", measures),), {})

    [_, row] = read_csv(export_spend(result).content)
    [record] = json.loads(export_spend(result, "json").content)

    assert (row[-2], row[-1]) == (str(measures.latency_ms), text)
    assert (record["latency_ms_total"], record["mean_latency_ms"]) == (measures.latency_ms, number)


async def test_an_exported_report_carries_each_groups_latency(report: SpendReport) -> None:
    query = SpendQuery(
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 3, 3, tzinfo=UTC),
        group_by=(D.PROMPT_VERSION,),
        tenant="acme",
    )
    result = await report.get(query)

    records = read_csv(export_spend(result).content)
    from_json = json.loads(export_spend(result, "json").content)

    assert [(r[0], r[-2], r[-1]) for r in records[1:]] == [
        ("", "61", "30.500"),
        ("summarize@9", "900", "300.000"),
        ("summarize@10", "750", "250.000"),
    ]
    assert [(r["prompt_version"], r["mean_latency_ms"]) for r in from_json] == [
        ("", 30.5),
        ("summarize@9", 300.0),
        ("summarize@10", 250.0),
    ]
