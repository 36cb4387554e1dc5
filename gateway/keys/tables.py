"""The gateway's SQL tables (SQLAlchemy Core), all named `gateway_*`.

- `gateway_tenants`: the tenants keys belong to. The id is the tenant's slug (`acme`), the
  same string the rate-limit and cost services see as their `tenant` dimension; a disabled
  tenant's keys stop authenticating at once, without revoking them one by one.
- `gateway_api_keys`: one row per key. `hash` is the peppered HMAC of the plaintext
  (`hashing`), never the plaintext; `scopes` is a space-separated, sorted list. Revoked and
  expired keys stay (an audit of who had access when); `revoked_at` is set once.

Migrations (`gateway/migrations/versions`), not `create_all`, create these; the two must match.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
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
SLUG = 64

tenants = Table(
    "gateway_tenants",
    metadata,
    Column("id", String(SLUG), primary_key=True),
    Column("name", String(NAME), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False),
)

api_keys = Table(
    "gateway_api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(SLUG), ForeignKey(tenants.c.id), nullable=False, index=True),
    Column("user", String(NAME), nullable=False),
    Column("tier", String(SLUG), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

__all__ = ["api_keys", "metadata", "tenants"]
