"""The router's Alembic history, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from services.router.jobs.schema import (
    VERSION_TABLE,
    alembic_config,
    create_engine,
    current_revision,
    migrate,
)
from services.router.jobs.tables import Base


async def tables_of(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names


async def test_empty_database_is_upgraded_to_head(database_url: str) -> None:
    assert await current_revision(database_url) is None

    await migrate(database_url)

    assert await current_revision(database_url) == "0001_jobs"
    assert {"router_jobs", VERSION_TABLE} <= await tables_of(database_url)


async def test_migrating_twice_is_a_no_op(database_url: str) -> None:
    await migrate(database_url)
    await migrate(database_url)

    assert await current_revision(database_url) == "0001_jobs"


async def test_concurrent_migrations_both_succeed(database_url: str) -> None:
    """Replicas starting together: on PostgreSQL the advisory lock orders them."""
    await asyncio.gather(migrate(database_url), migrate(database_url))

    assert await current_revision(database_url) == "0001_jobs"


async def test_migrated_schema_matches_the_table_classes(database_url: str) -> None:
    await migrate(database_url)

    def differences(sync: Connection) -> list[object]:
        context = MigrationContext.configure(sync, opts={"version_table": VERSION_TABLE})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
    await engine.dispose()


async def test_the_environment_also_runs_without_a_given_connection(sqlite_url: str) -> None:
    """As a script would run it (outside any event loop): env.py opens its own engine."""
    await asyncio.to_thread(command.upgrade, alembic_config(sqlite_url), "head")
    assert await current_revision(sqlite_url) == "0001_jobs"

    await asyncio.to_thread(command.downgrade, alembic_config(sqlite_url), "base")
    assert await tables_of(sqlite_url) == {VERSION_TABLE}
