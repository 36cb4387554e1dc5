"""Spend reports: spend, tokens and latency over a range of whole UTC days, grouped by
dimensions, read from the daily aggregates (`cost_spend_daily`, `cost_spend_flag_daily`) and
exported as CSV or JSON.

- `query`: `SpendQuery`, what a report asks for, validated on construction.
- `spend`: `SpendReport(engine).get(query)`, the rows and per-currency totals.
- `export`: `export_spend(result, format)`, the report as a file.
"""

from services.cost.reports.export import SpendFile, export_spend
from services.cost.reports.query import Dimension, SpendQuery
from services.cost.reports.spend import Measures, SpendReport, SpendResult, SpendRow

__all__ = [
    "Dimension",
    "Measures",
    "SpendFile",
    "SpendQuery",
    "SpendReport",
    "SpendResult",
    "SpendRow",
    "export_spend",
]
