"""The flags service's SQL tables (SQLAlchemy Core), all named `flags_*`.

- `flags_sequence`: one row, the change counter. Every write transaction bumps it first, which
  (a) serialises writers on both databases (PostgreSQL's row lock; SQLite's write lock, taken by
  that first statement before anything is read), so no write is computed from a stale read and
  no revision is lost; (b) numbers revisions across all flag sets; (c) tells replicas whether
  anything changed: they compare it to the version they hold.
- `flags_sets`: each flag set's current content (flagd JSON) and the revision that made it.
- `flags_revisions`: every change, with the set's whole content after it (NULL: deleted), who
  made it and why, and the flags it touched. Primary key = the counter's value.
- `flags_rollouts`: gradual rollouts and where they are.
- `flags_exposures`: variants served, per flag and UTC day.

Migrations (`migrations/versions`), not `create_all`, create these; the two must match.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
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
"""Longest flag set id, flag key, variant name or author kept."""

sequence = Table(
    "flags_sequence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("value", BigInteger, nullable=False),
)

flag_sets = Table(
    "flags_sets",
    metadata,
    Column("id", String(NAME), primary_key=True),
    Column("document", Text, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # sha256 of the flag file last loaded into this set (sets loaded from FLAGS_SOURCE_FILES).
    Column("source_digest", String(64), nullable=True),
)

revisions = Table(
    "flags_revisions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("flag_set", String(NAME), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("document", Text, nullable=True),
    Column("author", String(NAME), nullable=False),
    Column("message", Text, nullable=False),
    Column("changes", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

rollouts = Table(
    "flags_rollouts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("flag_set", String(NAME), nullable=False, index=True),
    Column("flag_key", String(NAME), nullable=False),
    Column("steps", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("applied_steps", Integer, nullable=False),
    Column("next_step_at", DateTime(timezone=True), nullable=True),
    Column("remaining_seconds", Float, nullable=True),
    Column("author", String(NAME), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("revisions", Text, nullable=False),
    Column("failure", Text, nullable=False),
)

exposures = Table(
    "flags_exposures",
    metadata,
    Column("flag_key", String(NAME), nullable=False),
    Column("variant", String(NAME), nullable=False),
    Column("day", Date, nullable=False),
    Column("count", BigInteger, nullable=False),
    PrimaryKeyConstraint("flag_key", "variant", "day"),
)
