"""The registry's SQL tables (SQLAlchemy Core), all named `prompts_*`.

- `prompts_prompts`: one row per prompt: its type (fixed by the first version), the newest
  version's number, times. Every write to a prompt locks its row first (`SELECT ... FOR
  UPDATE` on PostgreSQL; SQLite's write transactions are serialised whole), which is what
  makes version numbers consecutive and label compare-and-set exact.
- `prompts_tags`: (prompt, tag), so tag filters are an index lookup on either database.
- `prompts_versions`: immutable; no statement of the service updates or deletes a row.
  Unique per prompt by number and by content hash (the constraints back up the row lock).
  Templates, config and variables are JSON text.
- `prompts_labels`: the label pointers, one row per (prompt, label).
- `prompts_label_moves`: the append-only history of every label change.
- `prompts_changes`: the change log WatchPromptChanges streams and other replicas poll
  (see `change_log`); trimmed after `change_retention_seconds`.

Migrations (`migrations/versions`), not `create_all`, create these; the two must match.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from services.prompts.naming import MAX_LABEL, MAX_NAME, MAX_PERSON

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

# INTEGER on SQLite, so the key is a rowid alias that SQLite numbers itself.
_ID = BigInteger().with_variant(Integer(), "sqlite")

prompts = Table(
    "prompts_prompts",
    metadata,
    Column("id", _ID, Identity(), primary_key=True),
    Column("name", String(MAX_NAME), nullable=False, unique=True),
    Column("type", String(8), nullable=False),
    Column("latest_version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

tags = Table(
    "prompts_tags",
    metadata,
    Column("prompt_id", _ID, ForeignKey("prompts_prompts.id"), primary_key=True),
    Column("tag", String(64), primary_key=True),
    Index("ix_prompts_tags_tag", "tag"),
)

versions = Table(
    "prompts_versions",
    metadata,
    Column("id", _ID, Identity(), primary_key=True),
    Column("prompt_id", _ID, ForeignKey("prompts_prompts.id"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("template_format", String(16), nullable=False),
    Column("template", Text, nullable=False),
    Column("config", Text, nullable=False),
    Column("variables", Text, nullable=False),
    Column("commit_message", Text, nullable=False),
    Column("author", String(MAX_PERSON), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("prompt_id", "version"),
    UniqueConstraint("prompt_id", "content_hash", name="uq_prompts_versions_content_hash"),
)

labels = Table(
    "prompts_labels",
    metadata,
    Column("prompt_id", _ID, ForeignKey("prompts_prompts.id"), primary_key=True),
    Column("label", String(MAX_LABEL), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_prompts_labels_label", "label"),
)

label_moves = Table(
    "prompts_label_moves",
    metadata,
    Column("id", _ID, Identity(), primary_key=True),
    Column("prompt_id", _ID, ForeignKey("prompts_prompts.id"), nullable=False),
    Column("label", String(MAX_LABEL), nullable=False),
    Column("from_version", BigInteger, nullable=False),
    Column("to_version", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(MAX_PERSON), nullable=False),
    Column("reason", Text, nullable=False),
    Column("moved_at", DateTime(timezone=True), nullable=False),
    Index("ix_prompts_label_moves_prompt", "prompt_id", "id"),
)

changes = Table(
    "prompts_changes",
    metadata,
    Column("sequence", _ID, Identity(), primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("name", String(MAX_NAME), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("label", String(MAX_LABEL), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_prompts_changes_changed_at", "changed_at"),
)
