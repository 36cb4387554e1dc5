"""Backups of every service's database: `python -m scripts.backup dump|restore|verify|prune`.

    dump    --dir DIR (--service NAME ... | --url URL --name NAME)
            PostgreSQL: pg_dump custom format; embedded SQLite: the backup API. Writes
            <DIR>/<name>/<name>-<UTC stamp>.<pgdump|sqlite3> and its manifest (row counts and
            checksums per table, taken in the dump's snapshot; see scripts/backup_archive.py).
            Without --service or --url: every service (cost, router, flags, prompts, gateway),
            each resolved from its environment (`<SERVICE>_DATABASE_URL`, else
            `<SERVICE>_SQLITE_PATH`) exactly as the service resolves it.
    restore FILE (--service NAME | --url URL --name NAME)
            Checks the file against its manifest, and that the backup is of that service or
            name, then replaces the target database's contents.
            Stop the service's writers first (docs/runbooks/disaster-recovery.md).
    verify  FILE [--scratch-url URL]
            Restores into a scratch database (PostgreSQL: a new database on the server of
            --scratch-url, dropped afterwards; SQLite: a temporary file) and compares row
            counts and checksums per table with the manifest. Exit status 1 on any difference.
    prune   --dir DIR [--keep-days 90] [--keep-last 1]
            Deletes dumps older than the retention, keeping each database's newest ones.

Every database is backed up per URL given: the services' tables may share one database in
tests and in `make run`, but production gives each service its own (DESIGN.md), and the dump of
a URL is the whole database behind it. Passwords go to the tools through `PGPASSWORD`, never on
a command line, and never into output. Exit status: 0 done, 1 verification found differences,
2 usage, 3 a backup could not be made, read or restored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from scripts import backup_postgres, backup_sqlite
from scripts.backup_archive import (
    RETENTION_DAYS,
    BackupError,
    Manifest,
    differences,
    dump_path,
    file_sha256,
    prune,
    read_manifest,
    write_manifest,
)
from scripts.backup_targets import SERVICES, Target, target_of_service, target_of_url


async def dump_database(name: str, target: Target, directory: Path, now: datetime) -> Path:
    """Dump `target` under `directory`; returns the dump's path (its manifest beside it)."""
    final = dump_path(directory, name, target.kind, now)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if target.kind == "postgresql":
            tables = await backup_postgres.dump(target, partial)
        else:
            assert target.path is not None
            tables = backup_sqlite.dump(target.path, partial)
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    write_manifest(final, Manifest(name, target.kind, now, file_sha256(final), tables))
    return final


async def restore_backup(dump: Path, target: Target, name: str) -> Manifest:
    """Restores `dump` into `target`, which must be the database the backup was taken of:
    `name` (the service, or --name with --url) must be the manifest's, so one service's backup
    never replaces another's database."""
    manifest = read_manifest(dump)
    if manifest.name != name:
        raise BackupError(f"{dump} is a backup of {manifest.name!r}, not of {name!r}")
    if manifest.kind != target.kind:
        raise BackupError(f"{dump} is a {manifest.kind} backup; the target is {target.kind}")
    if target.kind == "postgresql":
        await backup_postgres.restore(dump, target)
    else:
        assert target.path is not None
        backup_sqlite.restore(dump, target.path)
    return manifest


async def verify_backup(dump: Path, scratch_server: Target | None) -> list[str]:
    """Differences between the manifest and a scratch restore (empty: the backup is good)."""
    manifest = read_manifest(dump)
    if manifest.kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="switchboard-verify-") as folder:
            copy = Path(folder) / "restored.sqlite3"
            backup_sqlite.restore(dump, copy)
            return differences(manifest.tables, backup_sqlite.summarise_file(copy))
    if scratch_server is None or scratch_server.kind != "postgresql":
        raise BackupError("verifying a PostgreSQL backup needs --scratch-url postgresql://...")
    async with backup_postgres.scratch_database(scratch_server) as scratch:
        await backup_postgres.restore(dump, scratch)
        found = await backup_postgres.summarise_database(scratch)
    return differences(manifest.tables, found)


def _targets(args: argparse.Namespace, environ: Mapping[str, str]) -> list[tuple[str, Target]]:
    if args.url:
        if not args.name:
            raise BackupError("--url needs --name (the folder and file name of its backups)")
        return [(args.name, target_of_url(args.url))]
    services = args.service or list(SERVICES)
    return [(service, target_of_service(service, environ)) for service in services]


def _target(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, Target]:
    if bool(args.url) == bool(args.service):
        raise BackupError("give exactly one of --url and --service")
    if args.url:
        if not args.name:
            raise BackupError("--url needs --name (the name the backup was taken under)")
        return args.name, target_of_url(args.url)
    return args.service, target_of_service(args.service, environ)


async def run(args: argparse.Namespace, environ: Mapping[str, str], now: datetime) -> int:
    if args.command == "dump":
        for name, target in _targets(args, environ):
            path = await dump_database(name, target, args.dir, now)
            print(f"dumped {name} ({target.redacted}) to {path}")
        return 0
    if args.command == "restore":
        name, target = _target(args, environ)
        manifest = await restore_backup(args.file, target, name)
        print(f"restored {args.file} ({len(manifest.tables)} tables) into {target.redacted}")
        return 0
    if args.command == "verify":
        scratch = target_of_url(args.scratch_url) if args.scratch_url else None
        problems = await verify_backup(args.file, scratch)
        for problem in problems:
            print(f"MISMATCH {problem}")
        print(f"{args.file}: {'differs' if problems else 'verified'}")
        return 1 if problems else 0
    for path in prune(args.dir, now, keep_days=args.keep_days, keep_last=args.keep_last):
        print(f"pruned {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m scripts.backup", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("dump", help="dump databases into a backup directory")
    dump.add_argument("--dir", type=Path, required=True)
    dump.add_argument("--service", action="append", choices=SERVICES)
    dump.add_argument("--url", help="a database URL instead of a service's environment")
    dump.add_argument("--name", help="the backup's name when --url is given")
    restore = commands.add_parser("restore", help="restore a dump into a database")
    restore.add_argument("file", type=Path)
    restore.add_argument("--service", choices=SERVICES)
    restore.add_argument("--url")
    restore.add_argument("--name", help="with --url: the backup's name, which must match")
    verify = commands.add_parser("verify", help="restore into a scratch database and compare")
    verify.add_argument("file", type=Path)
    verify.add_argument("--scratch-url", help="PostgreSQL server to create the scratch on")
    prune_ = commands.add_parser("prune", help="delete dumps past the retention")
    prune_.add_argument("--dir", type=Path, required=True)
    prune_.add_argument("--keep-days", type=int, default=RETENTION_DAYS)
    prune_.add_argument("--keep-last", type=int, default=1)
    return root


async def command(argv: Sequence[str], environ: Mapping[str, str], now: datetime) -> int:
    """The command line without the process: what `main` runs, and what tests call."""
    args = parser().parse_args(argv)
    try:
        return await run(args, environ, now)
    except BackupError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 3


def main() -> int:
    return asyncio.run(command(sys.argv[1:], os.environ, datetime.now(UTC)))


if __name__ == "__main__":
    sys.exit(main())
