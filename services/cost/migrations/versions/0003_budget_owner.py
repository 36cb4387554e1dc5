"""budgets: owner, the tenant that created a budget through the gateway

`cost_budgets` gains `owner` (VARCHAR NOT NULL DEFAULT ''): the tenant named by the gateway's
admin proxy when the budget was created ("platform" for the platform team's keys; empty when
created over gRPC directly). A tenant's admin key may delete only the budgets its tenant owns,
so a cap the platform set on a tenant, or on its users and keys, stays.

Existing budgets get '' (the platform's): who created them was not recorded, so a tenant can
no longer delete a budget it made before this migration; the platform can, or can re-create it
for the tenant. The default stays on the column so that a replica still on the previous
version, which does not name the column, can insert during a rolling upgrade.

Revision ID: 0003_budget_owner
Revises: 0002_aggregate_latency
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_budget_owner"
down_revision: str | None = "0002_aggregate_latency"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cost_budgets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owner", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("cost_budgets", schema=None) as batch_op:
        batch_op.drop_column("owner")
