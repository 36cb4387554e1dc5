"""The flags service's database: engine and Alembic history (`migrations/`, version table
`flags_alembic_version`), migrated at start-up."""

from __future__ import annotations

from pathlib import Path

from svckit.sql import Migrations, create_engine

MIGRATIONS = Migrations(
    directory=Path(__file__).resolve().parent / "migrations",
    version_table="flags_alembic_version",
    lock_key=0x5B_0A7E_0004,
)


async def migrate(database_url: str) -> None:
    await MIGRATIONS.migrate(database_url)


__all__ = ["MIGRATIONS", "create_engine", "migrate"]
