"""The router's database: its engine and its Alembic history (`services/router/migrations`),
migrated at start-up by `svckit.sql.Migrations`; the version table is
`router_alembic_version`.

From a shell (a new revision, a downgrade): `alembic.command.<verb>(alembic_config(url), ...)`.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from svckit.sql import Migrations, create_engine

MIGRATIONS = Migrations(
    directory=Path(__file__).resolve().parent.parent / "migrations",
    version_table="router_alembic_version",
    lock_key=0x5B_0A7E_0003,
)
MIGRATIONS_DIR = MIGRATIONS.directory
VERSION_TABLE = MIGRATIONS.version_table


def alembic_config(database_url: str) -> Config:
    return MIGRATIONS.config(database_url)


async def migrate(database_url: str) -> None:
    """Upgrades the database at `database_url` to the newest revision (a no-op when it is)."""
    await MIGRATIONS.migrate(database_url)


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None before the first migration."""
    return await MIGRATIONS.current_revision(database_url)


__all__ = ["MIGRATIONS", "alembic_config", "create_engine", "current_revision", "migrate"]
