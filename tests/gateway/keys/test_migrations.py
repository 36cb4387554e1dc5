"""The gateway's Alembic history, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from gateway.keys.tables import metadata
from gateway.migrations import MIGRATIONS, migrate
from svckit.sql import create_engine


async def test_an_empty_database_is_upgraded_to_head(database_url: str) -> None:
    assert await MIGRATIONS.current_revision(database_url) is None

    await migrate(database_url)

    assert await MIGRATIONS.current_revision(database_url) == "0001_keys"


async def test_concurrent_migrations_both_succeed(database_url: str) -> None:
    """Replicas (or the tool and the gateway) starting together."""
    await asyncio.gather(migrate(database_url), migrate(database_url))
    await migrate(database_url)

    assert await MIGRATIONS.current_revision(database_url) == "0001_keys"


async def test_the_migrated_schema_matches_the_tables(database_url: str) -> None:
    await migrate(database_url)

    def differences(sync: Connection) -> list[object]:
        opts = {"version_table": MIGRATIONS.version_table}
        return list(compare_metadata(MigrationContext.configure(sync, opts=opts), metadata))

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
    await engine.dispose()
