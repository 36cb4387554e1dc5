"""Embedded-mode backups: SQLite's online backup API, never a file copy.

A file copy of a live database in WAL mode can miss the pages still in the `-wal` file or tear
in the middle of a checkpoint; the backup API copies a consistent snapshot page by page while
the service keeps running. The manifest is computed on the source connection inside the same
read transaction the backup copies, so both describe the same instant.

Checksums: every row of a table, ordered by all of its columns, as Python's `repr` of the
tuple, hashed with SHA-256. They are compared only against another SQLite copy, never across
engines.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

from scripts.backup_archive import BackupError, Tables, TableSummary


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def table_names(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    )
    return [str(name) for (name,) in rows]


def summarise(connection: sqlite3.Connection) -> Tables:
    """Row count and checksum of every table (in the connection's current transaction)."""
    tables: Tables = {}
    for table in table_names(connection):
        width = len(connection.execute(f"SELECT * FROM {_quoted(table)} LIMIT 0").description)
        order = ", ".join(str(i) for i in range(1, width + 1))
        digest = hashlib.sha256()
        rows = 0
        for row in connection.execute(f"SELECT * FROM {_quoted(table)} ORDER BY {order}"):
            digest.update(repr(row).encode() + b"\n")
            rows += 1
        tables[table] = TableSummary(rows, digest.hexdigest())
    return tables


def _open_existing(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise BackupError(f"{path}: no such SQLite database")
    return sqlite3.connect(path, isolation_level=None)


def dump(source: Path, destination: Path) -> Tables:
    """Copy `source` into the new file `destination`; returns the snapshot's tables."""
    with closing(_open_existing(source)) as src, closing(sqlite3.connect(destination)) as dst:
        src.execute("BEGIN")  # a read transaction: the snapshot both the summary and copy see
        try:
            tables = summarise(src)
            src.backup(dst)
        finally:
            src.execute("COMMIT")
    return tables


def restore(backup: Path, target: Path) -> None:
    """Replace the contents of `target` (created when missing) with the backup's, atomically
    for readers of `target`: the backup API writes it under one exclusive lock."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(_open_existing(backup)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def summarise_file(path: Path) -> Tables:
    with closing(_open_existing(path)) as connection:
        (status,) = connection.execute("PRAGMA integrity_check").fetchone()
        if status != "ok":
            raise BackupError(f"{path}: integrity check failed: {status}")
        connection.execute("BEGIN")
        try:
            return summarise(connection)
        finally:
            connection.execute("COMMIT")
