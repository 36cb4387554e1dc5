"""Backup, verify and restore of every service's database, through the command line, against
the real PostgreSQL (pg_dump/pg_restore) and SQLite (the backup API)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import pytest
from sqlalchemy.engine import make_url

from scripts import backup_postgres, backup_sqlite
from scripts.backup import command, dump_database, verify_backup
from scripts.backup_archive import BackupError, Tables, manifest_path, read_manifest
from scripts.backup_targets import SERVICES, target_of_service, target_of_url
from tests.conftest import POSTGRES_ADMIN_URL

from .backup_data import (
    PROBE_ROWS,
    fill_postgres,
    fill_sqlite,
    libpq,
    postgres_execute,
    sqlite_execute,
)

ROOT = Path(__file__).resolve().parents[2]


NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@dataclass
class Database:
    service: str
    environ: dict[str, str]
    url: str
    execute: Callable[[str], Awaitable[None]]

    async def tables(self) -> Tables:
        target = target_of_url(self.url)
        if target.kind == "postgresql":
            return await backup_postgres.summarise_database(target)
        assert target.path is not None
        return backup_sqlite.summarise_file(target.path)


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the test's database lives: a fresh PostgreSQL database or a SQLite file URL."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'service.sqlite3'}"


async def make_database(place: str, service: str) -> Database:
    prefix = service.upper()
    target = target_of_url(place)
    if target.kind == "postgresql":
        await fill_postgres(place, service)

        async def run_pg(statement: str) -> None:
            await postgres_execute(place, statement)

        return Database(service, {f"{prefix}_DATABASE_URL": place}, place, run_pg)
    path = target.path
    assert path is not None
    await fill_sqlite(path, service)

    async def run_sqlite(statement: str) -> None:
        sqlite_execute(path, statement)

    environ = {f"{prefix}_DATABASE_URL": "", f"{prefix}_SQLITE_PATH": str(path)}
    return Database(service, environ, place, run_sqlite)


async def cli(argv: list[str], environ: dict[str, str] | None = None) -> int:
    return await command(argv, environ or {}, NOW)


def only_dump(directory: Path, name: str) -> Path:
    dumps = [p for p in (directory / name).iterdir() if not p.name.endswith(".json")]
    assert len(dumps) == 1, dumps
    return dumps[0]


@pytest.mark.parametrize("service", SERVICES)
async def test_every_database_is_dumped_verified_and_restored(
    place: str,
    service: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = await make_database(place, service)
    before = await database.tables()
    backups = tmp_path / "backups"
    assert await cli(["dump", "--dir", str(backups), "--service", service], database.environ) == 0
    dump = only_dump(backups, service)
    assert await cli(["verify", str(dump), "--scratch-url", POSTGRES_ADMIN_URL]) == 0
    # Disaster: rows lost, a table dropped; the backup brings the database back as it was.
    await database.execute("DELETE FROM backup_probe WHERE id % 2 = 0")
    await database.execute("DROP TABLE backup_probe")
    assert await cli(["restore", str(dump), "--service", service], database.environ) == 0
    after = await database.tables()
    output = capsys.readouterr().out
    assert after == before == read_manifest(dump).tables
    assert (
        before["backup_probe" if place.startswith("sqlite") else "public.backup_probe"].rows
        == PROBE_ROWS
    )
    assert f"{dump}: verified" in output


async def test_a_dump_taken_while_rows_are_written_matches_its_manifest(
    postgres_url: str, tmp_path: Path
) -> None:
    await fill_postgres(postgres_url, "cost")
    dumping = asyncio.Event()
    done = asyncio.Event()
    written = {"during": 0}

    async def writer() -> None:
        connection = await asyncpg.connect(libpq(postgres_url))
        try:
            index = PROBE_ROWS
            while not done.is_set():
                await connection.execute(
                    "INSERT INTO backup_probe (id, label) VALUES ($1, 'late')", index
                )
                index += 1
                written["during"] += dumping.is_set()
                await asyncio.sleep(0)
        finally:
            await connection.close()

    task = asyncio.create_task(writer())
    dumping.set()
    dump = await dump_database("cost", target_of_url(postgres_url), tmp_path, NOW)
    done.set()
    await task
    problems = await verify_backup(dump, target_of_url(POSTGRES_ADMIN_URL))
    assert written["during"] > 0
    assert problems == []


async def test_a_damaged_dump_is_neither_verified_nor_restored(
    place: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = await make_database(place, "router")
    dump = await dump_database("router", target_of_url(place), tmp_path, NOW)
    with dump.open("r+b") as handle:
        handle.seek(-3, 2)
        handle.write(b"\x00\x01\x02")
    await database.execute("DELETE FROM backup_probe")
    verified = await cli(["verify", str(dump), "--scratch-url", POSTGRES_ADMIN_URL])
    restored = await cli(["restore", str(dump), "--url", place, "--name", "router"])
    errors = capsys.readouterr().err
    assert (verified, restored) == (3, 3)
    assert "does not match its manifest" in errors
    assert (await database.tables())[probe_table(place)].rows == 0


async def test_a_restore_that_differs_from_the_manifest_fails_verification(
    place: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await make_database(place, "prompts")
    dump = await dump_database("prompts", target_of_url(place), tmp_path, NOW)
    manifest = json.loads(manifest_path(dump).read_text())
    manifest["tables"][probe_table(place)]["rows"] += 1
    manifest["tables"]["gone_table"] = {"rows": 1, "sha256": "0" * 64}
    del manifest["tables"][alembic_table(place, "prompts")]
    other = next(t for t in manifest["tables"] if t != probe_table(place) and t != "gone_table")
    manifest["tables"][other]["sha256"] = "0" * 64
    manifest_path(dump).write_text(json.dumps(manifest))
    status = await cli(["verify", str(dump), "--scratch-url", POSTGRES_ADMIN_URL])
    output = capsys.readouterr().out
    assert status == 1
    assert (
        f"MISMATCH {probe_table(place)}: {PROBE_ROWS} rows, the manifest says {PROBE_ROWS + 1}"
        in output
    )
    assert "MISMATCH gone_table: missing after restore" in output
    assert f"MISMATCH {other}: checksum differs from the manifest" in output
    assert f"MISMATCH {alembic_table(place, 'prompts')}: not in the manifest" in output
    assert f"{dump}: differs" in output


async def test_an_incomplete_dump_or_the_wrong_engine_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "flags.sqlite3"
    await fill_sqlite(source, "flags")
    dump = await dump_database("flags", target_of_url(f"sqlite:///{source}"), tmp_path, NOW)
    postgres = "postgresql://postgres@127.0.0.1/x"
    wrong_engine = await cli(["restore", str(dump), "--url", postgres, "--name", "flags"])
    manifest_path(dump).unlink()
    incomplete = await cli(
        ["restore", str(dump), "--url", f"sqlite:///{source}", "--name", "flags"]
    )
    errors = capsys.readouterr().err
    assert (wrong_engine, incomplete) == (3, 3)
    assert "is a sqlite backup; the target is postgresql" in errors
    assert "no manifest; the backup is incomplete" in errors


async def test_passwords_never_reach_the_output_and_scratch_databases_are_dropped(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await fill_postgres(postgres_url, "gateway")
    # The server trusts local connections, so any password is accepted, and must not show.
    with_password = make_url(postgres_url).set(password="hunter2-never-shown")
    url = with_password.render_as_string(hide_password=False)
    admin = make_url(POSTGRES_ADMIN_URL).set(password="hunter2-never-shown")
    scratch_url = admin.render_as_string(hide_password=False)
    before = await scratch_databases()
    assert await cli(["dump", "--dir", str(tmp_path), "--url", url, "--name", "keys"]) == 0
    dump = only_dump(tmp_path, "keys")
    assert await cli(["verify", str(dump), "--scratch-url", scratch_url]) == 0
    assert await cli(["verify", str(dump)]) == 3  # a PostgreSQL dump needs a scratch server
    assert await cli(["restore", str(dump), "--url", url, "--name", "keys"]) == 0
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err + manifest_path(dump).read_text()
    assert "***" in captured.out
    assert await scratch_databases() == before


async def test_pg_restore_failures_are_reported(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await fill_postgres(postgres_url, "cost")
    dump = await dump_database("cost", target_of_url(postgres_url), tmp_path, NOW)
    missing = make_url(postgres_url).set(database="switchboard_no_such_database")
    target = missing.render_as_string(False)
    status = await cli(["restore", str(dump), "--url", target, "--name", "cost"])
    assert status == 3
    assert "pg_restore failed" in capsys.readouterr().err


async def test_usage_mistakes_are_reported_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_dump = tmp_path / "a.sqlite3"
    results = [
        await cli(["dump", "--dir", str(tmp_path), "--url", "sqlite:///x.db"]),
        await cli(["dump", "--dir", str(tmp_path), "--url", "mysql://h/db", "--name", "m"]),
        await cli(["dump", "--dir", str(tmp_path), "--url", "postgresql://h", "--name", "m"]),
        await cli(
            ["dump", "--dir", str(tmp_path), "--url", "sqlite:///x.db", "--name", "Bad Name"]
        ),
        await cli(["dump", "--dir", str(tmp_path), "--url", "::", "--name", "m"]),
        await cli(["restore", str(sqlite_dump)]),
        await cli(["restore", str(sqlite_dump), "--service", "cost"], {"COST_SQLITE_PATH": "c.db"}),
        await cli(
            [
                "dump",
                "--dir",
                str(tmp_path),
                "--url",
                f"sqlite:///{tmp_path}/none.db",
                "--name",
                "n",
            ]
        ),
        await cli(
            [
                "dump",
                "--dir",
                str(tmp_path),
                "--url",
                "postgresql://postgres@127.0.0.1:1/x",
                "--name",
                "n",
            ]
        ),
    ]
    errors = capsys.readouterr().err
    assert results == [3] * len(results)
    for message in [
        "--url needs --name",
        "only PostgreSQL and SQLite files",
        "names no database",
        "lower-case letters",
        "not a database URL",
        "exactly one of --url and --service",
        "no such backup",
        "no such SQLite database",
        "cannot connect to postgresql://postgres@127.0.0.1:1/x",
    ]:
        assert message in errors


def test_a_service_resolves_to_the_database_it_uses() -> None:
    assert target_of_service("cost", {}).path == Path(".run/cost.sqlite3")
    assert target_of_service("router", {"ROUTER_SQLITE_PATH": "/data/r.db"}).path == Path(
        "/data/r.db"
    )
    shared = target_of_service("flags", {"FLAGS_DATABASE_URL": "postgresql+asyncpg://u:p@db/flags"})
    assert (shared.kind, shared.libpq_url, shared.password) == (
        "postgresql",
        "postgresql://u@db/flags",
        "p",
    )
    with pytest.raises(BackupError, match="not a service with a database"):
        target_of_service("ratelimit", {})


def test_the_command_runs_as_a_process_the_way_the_cronjob_runs_it(tmp_path: Path) -> None:
    source = tmp_path / "prompts.sqlite3"
    asyncio.run(fill_sqlite(source, "prompts"))
    env = {**os.environ, "PROMPTS_SQLITE_PATH": str(source)}
    command_line = [sys.executable, "-m", "scripts.backup", "dump", "--dir", str(tmp_path / "b")]
    done = subprocess.run(
        [*command_line, "--service", "prompts"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    dump = only_dump(tmp_path / "b", "prompts")
    verified = subprocess.run(
        [sys.executable, "-m", "scripts.backup", "verify", str(dump)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert verified.returncode == 0, verified.stderr
    assert "verified" in verified.stdout


def alembic_table(place: str, service: str) -> str:
    name = f"{service}_alembic_version"
    return name if place.startswith("sqlite") else f"public.{name}"


def probe_table(place: str) -> str:
    return "backup_probe" if place.startswith("sqlite") else "public.backup_probe"


async def scratch_databases() -> set[str]:
    connection = await asyncpg.connect(libpq(POSTGRES_ADMIN_URL))
    try:
        rows = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'switchboard_verify_%'"
        )
    finally:
        await connection.close()
    return {str(row[0]) for row in rows}


async def test_a_backup_is_restored_only_into_the_database_it_was_taken_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cost, router = tmp_path / "cost.sqlite3", tmp_path / "router.sqlite3"
    await fill_sqlite(cost, "cost")
    await fill_sqlite(router, "router")
    before = backup_sqlite.summarise_file(router)
    dump = await dump_database("cost", target_of_url(f"sqlite:///{cost}"), tmp_path, NOW)
    environ = {"ROUTER_SQLITE_PATH": str(router), "ROUTER_DATABASE_URL": ""}

    into_router = await cli(["restore", str(dump), "--service", "router"], environ)
    unnamed = await cli(["restore", str(dump), "--url", f"sqlite:///{router}"])
    misnamed = await cli(["restore", str(dump), "--url", f"sqlite:///{router}", "--name", "x"])

    assert (into_router, unnamed, misnamed) == (3, 3, 3)
    errors = capsys.readouterr().err
    assert "is a backup of 'cost', not of 'router'" in errors
    assert "--url needs --name" in errors
    assert backup_sqlite.summarise_file(router) == before
