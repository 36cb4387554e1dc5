"""spend aggregates: latency_ms, the sum of the events' latencies

`cost_spend_daily` and `cost_spend_flag_daily` gain `latency_ms` (BIGINT NOT NULL DEFAULT 0),
summed like the token counts, so reports can give latency per prompt version and per flag
variant (total and mean, the total over `requests`).

Existing aggregate rows get 0: latency from before this migration is not in the aggregates,
and a report over those days shows a mean latency that is too low. The ledger has always kept
each event's `latency_ms`, and `RebuildAggregates` (`ledger.aggregates.rebuild`) recomputes
both tables from the ledger, latency included: run it once after upgrading to fill in the
history. The migration does not do it itself: it would hold the aggregates' lock for as long
as reading the whole ledger takes, inside a start-up (the other replicas waiting on the
migration lock), where a rebuild run by an operator can pick its moment.

The default stays on the column (not dropped after the backfill of 0) so that a writer still
on the previous version, which does not name the column, can insert during a rolling upgrade;
the events it writes count 0 latency too, so the rebuild is best run once every replica runs
the new version.

Revision ID: 0002_aggregate_latency
Revises: 0001_initial
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002_aggregate_latency"
down_revision: str | None = "0001_initial"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

TABLES = ("cost_spend_daily", "cost_spend_flag_daily")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("latency_ms", sa.BigInteger(), server_default="0", nullable=False)
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("latency_ms")
