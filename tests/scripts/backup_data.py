"""Databases for the backup tests: a service's real schema (its own migrations) plus a probe
table holding awkward values (NULLs, unicode, bytes, JSON, times), in PostgreSQL or SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
from sqlalchemy.engine import make_url

from gateway.migrations import migrate as migrate_gateway
from services.cost.database import migrate as migrate_cost
from services.flags.database import migrate as migrate_flags
from services.prompts.database import migrate as migrate_prompts
from services.router.jobs.schema import migrate as migrate_router

MIGRATIONS: dict[str, Callable[[str], Awaitable[None]]] = {
    "cost": migrate_cost,
    "router": migrate_router,
    "flags": migrate_flags,
    "prompts": migrate_prompts,
    "gateway": migrate_gateway,
}

PROBE_ROWS = 300


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def probe_values(index: int) -> tuple[int, str | None, bytes, str]:
    text = None if index % 7 == 0 else f"row {index} · naïve ✓ \"quoted\" 'single'"
    return index, text, bytes([index % 256, 0, 255]), f'{{"n": {index}, "tags": ["a", "b"]}}'


async def fill_postgres(url: str, service: str) -> None:
    await MIGRATIONS[service](url)
    connection = await asyncpg.connect(libpq(url))
    try:
        await connection.execute(
            "CREATE TABLE backup_probe (id bigint PRIMARY KEY, label text, raw bytea,"
            " doc jsonb, at timestamptz DEFAULT '2026-01-02 03:04:05+00')"
        )
        await connection.executemany(
            "INSERT INTO backup_probe (id, label, raw, doc) VALUES ($1, $2, $3, $4::jsonb)",
            [probe_values(i) for i in range(PROBE_ROWS)],
        )
    finally:
        await connection.close()


async def postgres_execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(libpq(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def fill_sqlite(path: Path, service: str) -> None:
    await MIGRATIONS[service](f"sqlite+aiosqlite:///{path}")
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "CREATE TABLE backup_probe (id INTEGER PRIMARY KEY, label TEXT, raw BLOB, doc TEXT,"
            " at TEXT DEFAULT '2026-01-02T03:04:05Z')"
        )
        connection.executemany(
            "INSERT INTO backup_probe (id, label, raw, doc) VALUES (?, ?, ?, ?)",
            [probe_values(i) for i in range(PROBE_ROWS)],
        )
        connection.commit()


def sqlite_execute(path: Path, statement: str) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(statement)
        connection.commit()
