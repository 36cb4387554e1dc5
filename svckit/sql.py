"""SQL for every service: async engines, and Alembic migrations run at start-up.

`create_engine(url)` takes the async URLs the services use (`sqlite+aiosqlite:///...`,
`postgresql+asyncpg://...`); on SQLite it turns on write-ahead logging (readers do not block the
writer) and a busy timeout (concurrent writers wait instead of failing).

`Migrations(directory, version_table, lock_key).migrate(url)` upgrades a database to the newest
revision of one service's history, programmatically (no alembic.ini), inside one async
connection (`run_sync`). On PostgreSQL a transaction-scoped advisory lock makes replicas that
start together migrate one after the other, and the second finds the schema at head; on SQLite
BEGIN IMMEDIATE does the same for processes sharing the file. Each service has its own version
table (`<service>_alembic_version`) and prefixes its tables, so the services can share one
database. The history's `env.py` reads the open connection from
`config.attributes["connection"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from svckit.health import Probe


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    engine = create_async_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # The wait first: switching a new file to WAL takes its write lock, and a connection opened
    # at the same moment (another replica migrating) must wait for it, not fail as locked.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
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


def database_probe(engine: AsyncEngine) -> Probe:
    """A readiness probe: the database answers `SELECT 1`."""

    async def probe() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return probe


@dataclass(frozen=True)
class Migrations:
    """One service's Alembic history."""

    directory: Path
    version_table: str
    lock_key: int
    """The service's PostgreSQL advisory lock key: any constant unique among the services."""

    def config(self, database_url: str) -> Config:
        config = Config()
        config.set_main_option("script_location", str(self.directory))
        # Attributes, not options: an option would be %-interpolated by configparser.
        config.attributes["database_url"] = database_url
        config.attributes["version_table"] = self.version_table
        return config

    async def migrate(self, database_url: str) -> None:
        """Upgrade the database at `database_url` to the newest revision (a no-op at head)."""
        engine = create_engine(database_url)
        if engine.dialect.name == "sqlite":
            _begin_immediately(engine)
        try:
            async with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.lock_key}
                    )
                await conn.run_sync(self._upgrade, self.config(database_url))
        finally:
            await engine.dispose()

    async def current_revision(self, database_url: str) -> str | None:
        """The revision the database is at; None before the first migration."""
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(self._current)
        finally:
            await engine.dispose()

    @staticmethod
    def _upgrade(connection: Connection, config: Config) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    def _current(self, connection: Connection) -> str | None:
        opts = {"version_table": self.version_table}
        return MigrationContext.configure(connection, opts=opts).get_current_revision()
