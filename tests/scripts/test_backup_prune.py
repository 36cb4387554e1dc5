"""Retention: dumps older than 90 days are pruned by the time in their names, on an injected
clock; each database keeps its newest dump whatever its age."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scripts.backup import command
from scripts.backup_archive import Kind, dump_path, manifest_path, prune

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def make_dump(directory: Path, name: str, days_ago: float, ext: str = "pgdump") -> Path:
    kind: Kind = "postgresql" if ext == "pgdump" else "sqlite"
    path = dump_path(directory, name, kind, NOW - timedelta(days=days_ago))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"dump")
    manifest_path(path).write_text("{}")
    return path


def remaining(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*") if p.is_file()}


def test_dumps_past_ninety_days_are_deleted_with_their_manifests(tmp_path: Path) -> None:
    fresh = make_dump(tmp_path, "cost", 1)
    edge = make_dump(tmp_path, "cost", 90)
    old = make_dump(tmp_path, "cost", 90.01)
    older = make_dump(tmp_path, "cost", 400, ext="sqlite3")
    deleted = prune(tmp_path, NOW)
    assert deleted == sorted([old, older])
    assert remaining(tmp_path) == {
        fresh.name,
        manifest_path(fresh).name,
        edge.name,
        manifest_path(edge).name,
    }


def test_the_newest_dump_of_each_database_survives_however_old(tmp_path: Path) -> None:
    stale = make_dump(tmp_path, "router", 200)
    make_dump(tmp_path, "router", 300)
    lone = make_dump(tmp_path, "flags", 500)
    prune(tmp_path, NOW)
    assert {p.name for p in tmp_path.rglob("*.pgdump")} == {stale.name, lone.name}


def test_a_dump_without_its_manifest_does_not_count_as_the_one_kept(tmp_path: Path) -> None:
    """A dump whose manifest was never written (the job killed while hashing it) cannot be
    restored or verified: the newest complete one is what survives."""
    complete = make_dump(tmp_path, "cost", 100)
    incomplete = make_dump(tmp_path, "cost", 95)
    manifest_path(incomplete).unlink()
    deleted = prune(tmp_path, NOW)
    assert deleted == [incomplete]
    assert complete.exists()


def test_files_that_are_not_dumps_are_left_alone(tmp_path: Path) -> None:
    make_dump(tmp_path, "prompts", 1)
    stranger = tmp_path / "prompts" / "notes.txt"
    stranger.write_text("keep me")
    (tmp_path / "README").write_text("top-level files are not folders of dumps")
    make_dump(tmp_path, "prompts", 100)
    prune(tmp_path, NOW)
    assert stranger.exists()
    assert (tmp_path / "README").exists()


@pytest.mark.parametrize(("keep_days", "expected"), [("90", 2), ("30", 1), ("365", 3)])
def test_the_command_prunes_on_the_given_clock_and_retention(
    tmp_path: Path, keep_days: str, expected: int, capsys: pytest.CaptureFixture[str]
) -> None:
    for days in (10, 60, 120):
        make_dump(tmp_path, "gateway", days)
    argv = ["prune", "--dir", str(tmp_path), "--keep-days", keep_days]
    assert asyncio.run(command(argv, {}, NOW)) == 0
    assert len(list(tmp_path.rglob("*.pgdump"))) == expected
    assert capsys.readouterr().out.count("pruned ") == 3 - expected
