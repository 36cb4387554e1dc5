"""The cost service's SQL tables (SQLAlchemy Core), all named `cost_*`.

- `cost_ledger`: one row per usage event; the request id is the primary key, so an event is
  recorded once whatever delivers it twice. Money is `cost_nanos` (NULL: no price was known)
  with its currency; `price_id` names the price row used, so past usage keeps its price.
- `cost_spend_daily` and `cost_spend_flag_daily`: aggregates per UTC day and dimensions (and per
  flag variant), kept current in the ledger's transaction and rebuildable from the ledger.
  Their `latency_ms` is the sum of the events' latencies (a mean is that over `requests`); it
  came with migration 0002, whose existing rows hold 0 until `RebuildAggregates` recomputes
  them from the ledger, which always had each event's latency.
- `cost_prices`: operators' prices, versioned by `valid_from`.
- `cost_budgets`, `cost_budget_spend` (spend per budget and period, updated in the ledger's
  transaction) and `cost_alerts` (unique per budget, period and threshold: each fires once).

Migrations (`migrations/versions`), not `create_all`, create these; the two must match.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

NAME = 200
"""Longest tenant, subject, model, endpoint or prompt name kept."""

ledger = Table(
    "cost_ledger",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False, index=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("tenant", String(NAME), nullable=False),
    Column("subject", String(NAME), nullable=False),
    Column("user", String(NAME), nullable=False),
    Column("api_key_id", String(NAME), nullable=False),
    Column("endpoint", String(NAME), nullable=False),
    Column("model", String(NAME), nullable=False),
    Column("deployment", String(NAME), nullable=False),
    Column("provider", String(NAME), nullable=False),
    Column("upstream_model", String(NAME), nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cached_tokens", BigInteger, nullable=False),
    Column("cache_write_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("latency_ms", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("cache_hit", Boolean, nullable=False),
    Column("prompt_name", String(NAME), nullable=False),
    Column("prompt_version", BigInteger, nullable=False),
    Column("flag_variants", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("cost_nanos", BigInteger, nullable=True),
    Column("price_id", BigInteger, nullable=True),
)

_MEASURES = (
    "cost_nanos",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "requests",
    "unpriced_requests",
)


def _measures() -> list[Column[int]]:
    # latency_ms came later (0002): a server default, so rows written by a writer that does
    # not know it yet (during a rolling upgrade) still insert, counting 0.
    return [
        *(Column(name, BigInteger, nullable=False) for name in _MEASURES),
        Column("latency_ms", BigInteger, nullable=False, server_default="0"),
    ]


spend_daily = Table(
    "cost_spend_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("tenant", String(NAME), primary_key=True),
    Column("subject", String(NAME), primary_key=True),
    Column("model", String(NAME), primary_key=True),
    Column("endpoint", String(NAME), primary_key=True),
    Column("prompt_name", String(NAME), primary_key=True),
    Column("prompt_version", BigInteger, primary_key=True),
    Column("currency", String(3), primary_key=True),
    *_measures(),
)

spend_flag_daily = Table(
    "cost_spend_flag_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("tenant", String(NAME), primary_key=True),
    Column("flag_key", String(NAME), primary_key=True),
    Column("variant", String(NAME), primary_key=True),
    Column("model", String(NAME), primary_key=True),
    Column("currency", String(3), primary_key=True),
    *_measures(),
)

prices = Table(
    "cost_prices",
    metadata,
    # INTEGER on SQLite, so the key is a rowid alias that SQLite numbers itself.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True),
    Column("provider", String(NAME), nullable=False),
    Column("model", String(NAME), nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("input_per_million", BigInteger, nullable=False),
    Column("output_per_million", BigInteger, nullable=False),
    Column("cached_input_per_million", BigInteger, nullable=False),
    Column("cache_write_per_million", BigInteger, nullable=False),
    Column("reasoning_per_million", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("provider", "model", "valid_from"),
)

budgets = Table(
    "cost_budgets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scope", String(NAME), nullable=False, index=True),
    Column("model", String(NAME), nullable=False),
    Column("period", String(16), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("limit_nanos", BigInteger, nullable=False),
    Column("hard", Boolean, nullable=False),
    Column("thresholds", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("owner", String(NAME), nullable=False, server_default=""),
)

budget_spend = Table(
    "cost_budget_spend",
    metadata,
    Column("budget_id", String(32), primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("spent_nanos", BigInteger, nullable=False),
)

alerts = Table(
    "cost_alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("budget_id", String(32), nullable=False),
    Column("scope", String(NAME), nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("spent_nanos", BigInteger, nullable=False),
    Column("limit_nanos", BigInteger, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("budget_id", "period_start", "threshold"),
    Index("ix_cost_alerts_raised_at", "raised_at"),
)
