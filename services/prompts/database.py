"""The registry's database: engines, write transactions, and the Alembic history
(`migrations/`, version table `prompts_alembic_version`), migrated at start-up.

Every write is one transaction that starts by locking what it changes, so that what it reads
afterwards stays true until it commits:

- PostgreSQL: `Database.write()` is an ordinary READ COMMITTED transaction and the writers lock
  the prompt's row (`SELECT ... FOR UPDATE`) before reading anything they decide on.
- SQLite: the driver (pysqlite, under aiosqlite) would run a transaction's first SELECTs outside
  any transaction and BEGIN only at the first INSERT/UPDATE, so a read-then-write would not be
  atomic, and two deferred transactions upgrading their locks fail at once instead of waiting.
  So writes go through a second engine whose transactions start with `BEGIN IMMEDIATE` (the
  database's write lock, waited for up to the busy timeout): SQLite writers run one after the
  other, each seeing everything committed before it. Reads use the first engine and, in WAL
  mode, never wait for a writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from svckit.sql import Migrations, create_engine

MIGRATIONS = Migrations(
    directory=Path(__file__).resolve().parent / "migrations",
    version_table="prompts_alembic_version",
    lock_key=0x5B_0A7E_0005,
)


async def migrate(database_url: str) -> None:
    await MIGRATIONS.migrate(database_url)


class Database:
    """A reader engine and a writer (the same engine on PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.reader = create_engine(url)
        self.sqlite = self.reader.dialect.name == "sqlite"
        self.writer = _immediate(create_engine(url)) if self.sqlite else self.reader

    @property
    def dialect(self) -> str:
        return str(self.reader.dialect.name)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed on exit, rolled back on an exception."""
        async with self.writer.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.reader.dispose()
        if self.writer is not self.reader:
            await self.writer.dispose()


def _immediate(engine: AsyncEngine) -> AsyncEngine:
    """Transactions of `engine` begin with BEGIN IMMEDIATE (the driver's own BEGIN is off)."""

    def no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    def begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    event.listen(engine.sync_engine, "connect", no_implicit_begin)
    event.listen(engine.sync_engine, "begin", begin_immediate)
    return engine


__all__ = ["MIGRATIONS", "Database", "migrate"]
