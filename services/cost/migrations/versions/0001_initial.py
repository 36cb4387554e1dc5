"""ledger, aggregates, prices, budgets, alerts

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "cost_alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("budget_id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("spent_nanos", sa.BigInteger(), nullable=False),
        sa.Column("limit_nanos", sa.BigInteger(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_alerts")),
        sa.UniqueConstraint(
            "budget_id", "period_start", "threshold", name=op.f("uq_cost_alerts_budget_id")
        ),
    )
    with op.batch_alter_table("cost_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_cost_alerts_raised_at", ["raised_at"], unique=False)

    op.create_table(
        "cost_budget_spend",
        sa.Column("budget_id", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent_nanos", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("budget_id", "period_start", name=op.f("pk_cost_budget_spend")),
    )
    op.create_table(
        "cost_budgets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("limit_nanos", sa.BigInteger(), nullable=False),
        sa.Column("hard", sa.Boolean(), nullable=False),
        sa.Column("thresholds", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_budgets")),
    )
    with op.batch_alter_table("cost_budgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cost_budgets_scope"), ["scope"], unique=False)

    op.create_table(
        "cost_ledger",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("api_key_id", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("deployment", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("upstream_model", sa.String(length=200), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("prompt_name", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.BigInteger(), nullable=False),
        sa.Column("flag_variants", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=True),
        sa.Column("price_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_cost_ledger")),
    )
    with op.batch_alter_table("cost_ledger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cost_ledger_occurred_at"), ["occurred_at"], unique=False
        )

    op.create_table(
        "cost_prices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("input_per_million", sa.BigInteger(), nullable=False),
        sa.Column("output_per_million", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_per_million", sa.BigInteger(), nullable=False),
        sa.Column("cache_write_per_million", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_per_million", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_prices")),
        sa.UniqueConstraint(
            "provider", "model", "valid_from", name=op.f("uq_cost_prices_provider")
        ),
    )
    op.create_table(
        "cost_spend_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tenant", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("prompt_name", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "tenant",
            "subject",
            "model",
            "endpoint",
            "prompt_name",
            "prompt_version",
            "currency",
            name=op.f("pk_cost_spend_daily"),
        ),
    )
    op.create_table(
        "cost_spend_flag_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tenant", sa.String(length=200), nullable=False),
        sa.Column("flag_key", sa.String(length=200), nullable=False),
        sa.Column("variant", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cost_nanos", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_tokens", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "tenant",
            "flag_key",
            "variant",
            "model",
            "currency",
            name=op.f("pk_cost_spend_flag_daily"),
        ),
    )


def downgrade() -> None:
    op.drop_table("cost_spend_flag_daily")
    op.drop_table("cost_spend_daily")
    op.drop_table("cost_prices")
    with op.batch_alter_table("cost_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cost_ledger_occurred_at"))

    op.drop_table("cost_ledger")
    with op.batch_alter_table("cost_budgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cost_budgets_scope"))

    op.drop_table("cost_budgets")
    op.drop_table("cost_budget_spend")
    with op.batch_alter_table("cost_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_cost_alerts_raised_at")

    op.drop_table("cost_alerts")
