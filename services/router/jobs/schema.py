"""The router's database: engine creation and schema migration at start-up.

`migrate(url)` upgrades the database to the newest Alembic revision in
`services/router/migrations`, programmatically (no alembic.ini): the service calls it before
serving, tests call it on a fresh database. It runs Alembic inside one async connection
(`run_sync`), so the same async URL (`sqlite+aiosqlite:///...`, `postgresql+asyncpg://...`) serves
the app and its migrations. On PostgreSQL a transaction-scoped advisory lock makes replicas that
start together migrate one after the other; the second finds the schema at head and does nothing
(on SQLite, BEGIN IMMEDIATE does the same for processes sharing the file).
The router's history has its own version table (`router_alembic_version`) so the services can
share one database.

From a shell (a new revision, a downgrade): `alembic.command.<verb>(alembic_config(url), ...)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "router_alembic_version"
_MIGRATION_LOCK_KEY = 0x5B_0A7E_0003
"""An arbitrary constant: the router's PostgreSQL advisory lock for migrations."""


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for the router's tables. On SQLite: write-ahead logging (readers do not
    block the writer) and a busy timeout (concurrent writers wait instead of failing)."""
    engine = create_async_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_immediately(engine: AsyncEngine) -> None:
    """SQLite's counterpart of the advisory lock: BEGIN IMMEDIATE takes the write lock before
    Alembic reads the version table, so a concurrent migration waits instead of racing. (The
    driver's own implicit BEGIN is switched off so the listener's is the only one.)"""

    def no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    def begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine.sync_engine, "connect", no_implicit_begin)
    event.listen(engine.sync_engine, "begin", begin_immediate)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: an option would be %-interpolated by configparser.
    config.attributes["database_url"] = database_url
    config.attributes["version_table"] = VERSION_TABLE
    return config


async def migrate(database_url: str) -> None:
    """Upgrades the database at `database_url` to the newest revision (a no-op when it is)."""
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        _begin_immediately(engine)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            await conn.run_sync(_upgrade, alembic_config(database_url))
    finally:
        await engine.dispose()


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None before the first migration."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()
