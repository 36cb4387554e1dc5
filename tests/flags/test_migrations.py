"""The flags service's Alembic history, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select

from services.flags.database import MIGRATIONS, create_engine, migrate
from services.flags.tables import metadata, sequence


async def test_an_empty_database_is_migrated_to_head_with_the_counter_at_zero(
    database_url: str,
) -> None:
    assert await MIGRATIONS.current_revision(database_url) is None

    await asyncio.gather(migrate(database_url), migrate(database_url))

    assert await MIGRATIONS.current_revision(database_url) == "0001_initial"
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(select(sequence))).all() == [(1, 0)]
    await engine.dispose()


async def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    await migrate(database_url)

    def differences(sync: Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"version_table": MIGRATIONS.version_table})
        return list(compare_metadata(context, metadata))

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
    await engine.dispose()


async def test_downgrade_removes_every_table(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)

    def downgrade(sync: Connection) -> set[str]:
        config = MIGRATIONS.config(sqlite_url)
        config.attributes["connection"] = sync
        command.downgrade(config, "base")
        return set(inspect(sync).get_table_names())

    async with engine.begin() as conn:
        assert await conn.run_sync(downgrade) == {MIGRATIONS.version_table}
    await engine.dispose()
