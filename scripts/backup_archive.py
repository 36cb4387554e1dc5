"""The backup directory: names, manifests, and the retention that prunes it.

Layout, one folder per database name (a service, or the `--name` given with a URL):

    <dir>/<name>/<name>-<YYYYmmddTHHMMSSZ>.pgdump              pg_dump custom format
    <dir>/<name>/<name>-<YYYYmmddTHHMMSSZ>.sqlite3             a SQLite backup-API copy
    <dir>/<name>/<name>-<YYYYmmddTHHMMSSZ>.<ext>.manifest.json what verification compares

The time in the name is the dump's (UTC), so retention does not depend on file times, which a
copy to other storage changes. The manifest is written last, after the dump was renamed into
place: a dump without its manifest is incomplete and is never restored or verified. It holds
per-table row counts and checksums taken in the same snapshot as the dump, and the dump file's
own SHA-256, so damage at rest is caught before anything is restored.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

Kind = Literal["postgresql", "sqlite"]
EXTENSIONS: dict[Kind, str] = {"postgresql": "pgdump", "sqlite": "sqlite3"}
MANIFEST_SUFFIX = ".manifest.json"
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
DUMP = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9_-]*)-(?P<stamp>\d{8}T\d{6}Z)\.(?P<ext>pgdump|sqlite3)$"
)
RETENTION_DAYS = 90


@dataclass(frozen=True)
class TableSummary:
    rows: int
    sha256: str


Tables = dict[str, TableSummary]


@dataclass(frozen=True)
class Manifest:
    name: str
    kind: Kind
    created_at: datetime
    file_sha256: str
    tables: Tables

    def to_json(self) -> dict[str, Any]:
        return {
            "format": 1,
            "name": self.name,
            "kind": self.kind,
            "created_at": self.created_at.strftime(STAMP),
            "file_sha256": self.file_sha256,
            "tables": {
                table: {"rows": s.rows, "sha256": s.sha256} for table, s in self.tables.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        kind: Kind = "postgresql" if data["kind"] == "postgresql" else "sqlite"
        return cls(
            name=str(data["name"]),
            kind=kind,
            created_at=datetime.strptime(data["created_at"], STAMP).replace(tzinfo=UTC),
            file_sha256=str(data["file_sha256"]),
            tables={
                str(t): TableSummary(int(s["rows"]), str(s["sha256"]))
                for t, s in data["tables"].items()
            },
        )


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message never carries a password."""


def dump_path(directory: Path, name: str, kind: Kind, at: datetime) -> Path:
    if not NAME.match(name):
        raise BackupError(f"backup name {name!r}: lower-case letters, digits, '-' and '_' only")
    stamp = at.astimezone(UTC).strftime(STAMP)
    return directory / name / f"{name}-{stamp}.{EXTENSIONS[kind]}"


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(dump: Path, manifest: Manifest) -> Path:
    target = manifest_path(dump)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")
    partial.replace(target)
    return target


def read_manifest(dump: Path) -> Manifest:
    """The dump's manifest, after checking the dump file is the one it describes."""
    path = manifest_path(dump)
    if not dump.is_file():
        raise BackupError(f"{dump}: no such backup")
    if not path.is_file():
        raise BackupError(f"{dump}: no manifest; the backup is incomplete")
    manifest = Manifest.from_json(json.loads(path.read_text()))
    if file_sha256(dump) != manifest.file_sha256:
        raise BackupError(f"{dump}: the file does not match its manifest's SHA-256")
    return manifest


def dump_time(path: Path) -> datetime | None:
    found = DUMP.match(path.name)
    if found is None:
        return None
    return datetime.strptime(found["stamp"], STAMP).replace(tzinfo=UTC)


def prune(
    directory: Path, now: datetime, *, keep_days: int = RETENTION_DAYS, keep_last: int = 1
) -> list[Path]:
    """Delete dumps (and manifests) older than `keep_days`, except each database's newest
    `keep_last` complete ones (with a manifest: restore and verify refuse a dump without one):
    an old backup is still better than none when dumps have stopped. Returns the deleted
    dumps."""
    cutoff = now - timedelta(days=keep_days)
    deleted: list[Path] = []
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        dated = sorted(
            ((when, p) for p in folder.iterdir() if (when := dump_time(p)) is not None),
            reverse=True,
        )
        complete = [dump for _, dump in dated if manifest_path(dump).exists()]
        kept = set(complete[:keep_last])
        for when, dump in dated:
            if dump not in kept and when < cutoff:
                manifest_path(dump).unlink(missing_ok=True)
                dump.unlink()
                deleted.append(dump)
    return sorted(deleted)


def differences(expected: Tables, found: Tables) -> list[str]:
    """What differs between the manifest's tables and a restored copy's, one line each."""
    problems = [f"{t}: missing after restore" for t in sorted(expected.keys() - found.keys())]
    problems += [f"{t}: not in the manifest" for t in sorted(found.keys() - expected.keys())]
    for table in sorted(expected.keys() & found.keys()):
        want, got = expected[table], found[table]
        if want.rows != got.rows:
            problems.append(f"{table}: {got.rows} rows, the manifest says {want.rows}")
        elif want.sha256 != got.sha256:
            problems.append(f"{table}: checksum differs from the manifest")
    return problems
