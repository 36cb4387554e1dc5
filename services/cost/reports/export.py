"""A spend report as a file: CSV (the default) or JSON, for `ExportSpend`.

Both have one record per row of the report, with the same fields in the same order: the
dimensions asked for (by name), `currency`, `cost`, `input_tokens`, `output_tokens`,
`cached_tokens`, `requests`, `unpriced_requests`, `latency_ms_total`, `mean_latency_ms` (the
latency columns last, so readers of the older files by position still read what they did).
`cost` is decimal units of the currency with exactly 9 decimals ("1.250000000"), a string in
JSON too: exact, and no JSON reader turns it into a float that loses nanos. `mean_latency_ms`
is a measurement, not money: rounded to 3 decimals (a microsecond), "250.333" in CSV and the
number 250.333 in JSON; "0.000" / 0.0 for a row without requests. Totals are not a record:
they are the sums of the columns, per currency (except in a flag_variant report, whose rows
overlap; see `spend`).

CSV follows RFC 4180 (the csv module's quoting, CRLF line ends, a header row), UTF-8 without a
byte-order mark. Finance teams open these files in spreadsheets, where a cell starting with
= + - @ (or tab or carriage return) is run as a formula, and tenant, subject, model and prompt
names come from callers: such text cells are prefixed with a single quote (OWASP's advice
against CSV injection). Numeric cells are written by us and never start that way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import NamedTuple

from services.cost.money import NANOS_PER_UNIT
from services.cost.reports.spend import SpendResult, SpendRow
from svckit.errors import InvalidArgument

CSV_CONTENT_TYPE = "text/csv; charset=utf-8; header=present"
JSON_CONTENT_TYPE = "application/json"

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell as a formula."""

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_tokens", "requests", "unpriced_requests")
LATENCY_COLUMNS = ("latency_ms_total", "mean_latency_ms")
MEAN_DECIMALS = 3


class SpendFile(NamedTuple):
    content_type: str
    content: bytes


def export_spend(result: SpendResult, file_format: str = "csv") -> SpendFile:
    """The report as a file; `file_format` is "csv" (also when empty) or "json", any case."""
    chosen = file_format.strip().lower() or "csv"
    if chosen == "csv":
        return SpendFile(CSV_CONTENT_TYPE, _csv(result))
    if chosen == "json":
        return SpendFile(JSON_CONTENT_TYPE, _json(result))
    raise InvalidArgument.field("format", 'must be "csv" or "json"')


def header(result: SpendResult) -> list[str]:
    dimensions = [d.value for d in result.query.group_by]
    return [*dimensions, "currency", "cost", *TOKEN_COLUMNS, *LATENCY_COLUMNS]


def decimal_units(nanos: int) -> str:
    """Nanos as decimal units with 9 decimals: 1_250_000_000 -> "1.250000000"."""
    sign = "-" if nanos < 0 else ""
    units, rest = divmod(abs(nanos), NANOS_PER_UNIT)
    return f"{sign}{units}.{rest:09d}"


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv(result: SpendResult) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header(result))
    for row in result.rows:
        texts = [*(row.group[d.value] for d in result.query.group_by), row.currency]
        writer.writerow([*(safe_cell(t) for t in texts), *_numbers(row)])
    return buffer.getvalue().encode("utf-8")


def _numbers(row: SpendRow) -> Iterator[str]:
    yield decimal_units(row.measures.cost_nanos)
    for name in TOKEN_COLUMNS:
        yield str(getattr(row.measures, name))
    yield str(row.measures.latency_ms)
    yield f"{row.measures.mean_latency_ms:.{MEAN_DECIMALS}f}"


def _json(result: SpendResult) -> bytes:
    records = [_record(result, row) for row in result.rows]
    return json.dumps(records, ensure_ascii=False).encode("utf-8")


def _record(result: SpendResult, row: SpendRow) -> dict[str, str | int | float]:
    record: dict[str, str | int | float] = {
        d.value: row.group[d.value] for d in result.query.group_by
    }
    record["currency"] = row.currency
    record["cost"] = decimal_units(row.measures.cost_nanos)
    for name in TOKEN_COLUMNS:
        record[name] = getattr(row.measures, name)
    record["latency_ms_total"] = row.measures.latency_ms
    record["mean_latency_ms"] = round(row.measures.mean_latency_ms, MEAN_DECIMALS)
    return record
