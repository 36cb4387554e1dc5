"""tenants and API keys

Revision ID: 0001_keys
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001_keys"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_tenants",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_tenants")),
    )
    op.create_table(
        "gateway_api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["gateway_tenants.id"],
            name=op.f("fk_gateway_api_keys_tenant_id_gateway_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_api_keys")),
    )
    with op.batch_alter_table("gateway_api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_gateway_api_keys_tenant_id", ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateway_api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_gateway_api_keys_tenant_id")

    op.drop_table("gateway_api_keys")
    op.drop_table("gateway_tenants")
