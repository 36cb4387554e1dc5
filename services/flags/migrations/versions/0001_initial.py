"""sequence, flag sets, revisions, rollouts, exposures

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
    sequence = op.create_table(
        "flags_sequence",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags_sequence")),
    )
    op.bulk_insert(sequence, [{"id": 1, "value": 0}])
    op.create_table(
        "flags_sets",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_digest", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags_sets")),
    )
    op.create_table(
        "flags_revisions",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("flag_set", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags_revisions")),
    )
    with op.batch_alter_table("flags_revisions", schema=None) as batch_op:
        batch_op.create_index("ix_flags_revisions_flag_set", ["flag_set"], unique=False)
    op.create_table(
        "flags_rollouts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("flag_set", sa.String(length=200), nullable=False),
        sa.Column("flag_key", sa.String(length=200), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("applied_steps", sa.Integer(), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remaining_seconds", sa.Float(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revisions", sa.Text(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags_rollouts")),
    )
    with op.batch_alter_table("flags_rollouts", schema=None) as batch_op:
        batch_op.create_index("ix_flags_rollouts_flag_set", ["flag_set"], unique=False)
        batch_op.create_index("ix_flags_rollouts_state", ["state"], unique=False)
    op.create_table(
        "flags_exposures",
        sa.Column("flag_key", sa.String(length=200), nullable=False),
        sa.Column("variant", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("flag_key", "variant", "day", name=op.f("pk_flags_exposures")),
    )


def downgrade() -> None:
    op.drop_table("flags_exposures")
    with op.batch_alter_table("flags_rollouts", schema=None) as batch_op:
        batch_op.drop_index("ix_flags_rollouts_state")
        batch_op.drop_index("ix_flags_rollouts_flag_set")
    op.drop_table("flags_rollouts")
    with op.batch_alter_table("flags_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_flags_revisions_flag_set")
    op.drop_table("flags_revisions")
    op.drop_table("flags_sets")
    op.drop_table("flags_sequence")
