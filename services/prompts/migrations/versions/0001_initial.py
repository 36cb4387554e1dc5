"""prompts, versions, labels, label history, change log

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
        "prompts_changes",
        sa.Column(
            "sequence",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(length=36), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_prompts_changes")),
    )
    with op.batch_alter_table("prompts_changes", schema=None) as batch_op:
        batch_op.create_index("ix_prompts_changes_changed_at", ["changed_at"], unique=False)

    op.create_table(
        "prompts_prompts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("latest_version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts_prompts")),
        sa.UniqueConstraint("name", name=op.f("uq_prompts_prompts_name")),
    )
    op.create_table(
        "prompts_label_moves",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column(
            "prompt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("label", sa.String(length=36), nullable=False),
        sa.Column("from_version", sa.BigInteger(), nullable=False),
        sa.Column("to_version", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts_prompts.id"],
            name=op.f("fk_prompts_label_moves_prompt_id_prompts_prompts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts_label_moves")),
    )
    with op.batch_alter_table("prompts_label_moves", schema=None) as batch_op:
        batch_op.create_index("ix_prompts_label_moves_prompt", ["prompt_id", "id"], unique=False)

    op.create_table(
        "prompts_labels",
        sa.Column(
            "prompt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("label", sa.String(length=36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts_prompts.id"],
            name=op.f("fk_prompts_labels_prompt_id_prompts_prompts"),
        ),
        sa.PrimaryKeyConstraint("prompt_id", "label", name=op.f("pk_prompts_labels")),
    )
    with op.batch_alter_table("prompts_labels", schema=None) as batch_op:
        batch_op.create_index("ix_prompts_labels_label", ["label"], unique=False)

    op.create_table(
        "prompts_tags",
        sa.Column(
            "prompt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts_prompts.id"],
            name=op.f("fk_prompts_tags_prompt_id_prompts_prompts"),
        ),
        sa.PrimaryKeyConstraint("prompt_id", "tag", name=op.f("pk_prompts_tags")),
    )
    with op.batch_alter_table("prompts_tags", schema=None) as batch_op:
        batch_op.create_index("ix_prompts_tags_tag", ["tag"], unique=False)

    op.create_table(
        "prompts_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column(
            "prompt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("template_format", sa.String(length=16), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("commit_message", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts_prompts.id"],
            name=op.f("fk_prompts_versions_prompt_id_prompts_prompts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts_versions")),
        sa.UniqueConstraint("prompt_id", "content_hash", name="uq_prompts_versions_content_hash"),
        sa.UniqueConstraint("prompt_id", "version", name=op.f("uq_prompts_versions_prompt_id")),
    )


def downgrade() -> None:
    op.drop_table("prompts_versions")
    with op.batch_alter_table("prompts_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_prompts_tags_tag")

    op.drop_table("prompts_tags")
    with op.batch_alter_table("prompts_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_prompts_labels_label")

    op.drop_table("prompts_labels")
    with op.batch_alter_table("prompts_label_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_prompts_label_moves_prompt")

    op.drop_table("prompts_label_moves")
    op.drop_table("prompts_prompts")
    with op.batch_alter_table("prompts_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_prompts_changes_changed_at")

    op.drop_table("prompts_changes")
