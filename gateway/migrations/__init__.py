"""The gateway's Alembic history (version table `gateway_alembic_version`), migrated when the
gateway or the key tool starts; replicas starting together migrate one after the other."""

from __future__ import annotations

from pathlib import Path

from svckit.sql import Migrations

MIGRATIONS = Migrations(
    directory=Path(__file__).resolve().parent,
    version_table="gateway_alembic_version",
    lock_key=0x5B_0A7E_0010,
)


async def migrate(database_url: str) -> None:
    """Upgrades the database at `database_url` to the newest revision (a no-op when it is)."""
    await MIGRATIONS.migrate(database_url)


__all__ = ["MIGRATIONS", "migrate"]
