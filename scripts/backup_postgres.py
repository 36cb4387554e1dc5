"""PostgreSQL backups with the server's own tools: `pg_dump` (custom format) and `pg_restore`.

Consistency: the script opens a REPEATABLE READ transaction, exports its snapshot and runs
`pg_dump --snapshot` on it while it computes the manifest in that same transaction, so the
dump and the manifest describe the same instant even while the services keep writing.

Restore: `pg_restore --clean --if-exists --no-owner --no-acl --single-transaction
--exit-on-error`: all or nothing, objects owned by the role of the URL restored into (the
service's own role, which created them through its migrations). Writers must be stopped first
(see docs/runbooks/disaster-recovery.md).

Checksums: each row as PostgreSQL's text form of the row, ordered by that text under the "C"
collation (the database's collation must not change the order), hashed with SHA-256 as it
streams from a cursor. Sequences are restored by pg_restore but not part of the comparison.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from scripts.backup_archive import BackupError, Tables, TableSummary
from scripts.backup_targets import Target

TABLES = """
SELECT table_schema, table_name FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
ORDER BY table_schema, table_name
"""


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def connect(target: Target) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(target.libpq_url, password=target.password, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupError(f"cannot connect to {target.redacted}: {type(exc).__name__}") from None


async def summarise(connection: asyncpg.Connection) -> Tables:
    """Row count and checksum of every table; call inside a transaction (cursors need one)."""
    tables: Tables = {}
    for schema, table in await connection.fetch(TABLES):
        name = f"{_quoted(schema)}.{_quoted(table)}"
        query = f'SELECT t::text FROM ONLY {name} AS t ORDER BY t::text COLLATE "C"'
        digest = hashlib.sha256()
        rows = 0
        async for record in connection.cursor(query, prefetch=1000):
            digest.update(record[0].encode() + b"\n")
            rows += 1
        tables[f"{schema}.{table}"] = TableSummary(rows, digest.hexdigest())
    return tables


async def _run(*command: str, target: Target) -> None:
    process = await asyncio.create_subprocess_exec(
        *command,
        env=target.environment(os.environ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        # The tools' messages name objects and the server, never the password (not passed).
        raise BackupError(f"{command[0]} failed ({process.returncode}): {stderr.decode().strip()}")


async def dump(target: Target, destination: Path) -> Tables:
    """pg_dump of `target` into the new file `destination`; returns the snapshot's tables."""
    connection = await connect(target)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            dumping = asyncio.create_task(
                _run(
                    "pg_dump",
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={destination}",
                    f"--dbname={target.libpq_url}",
                    target=target,
                )
            )
            try:
                tables = await summarise(connection)
            finally:
                await dumping  # the snapshot must outlive pg_dump's start
    finally:
        await connection.close()
    return tables


async def restore(backup: Path, target: Target) -> None:
    await _run(
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-acl",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={target.libpq_url}",
        str(backup),
        target=target,
    )


async def summarise_database(target: Target) -> Tables:
    connection = await connect(target)
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            return await summarise(connection)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_database(server: Target) -> AsyncIterator[Target]:
    """A new empty database on `server` (any database URL there whose role may CREATE
    DATABASE), dropped afterwards even when connections are left open."""
    name = f"switchboard_verify_{uuid.uuid4().hex[:12]}"
    admin = await connect(server)
    try:
        await admin.execute(f"CREATE DATABASE {_quoted(name)}")
        try:
            yield server.with_database(name)
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
    finally:
        await admin.close()
