"""Flag files loaded at start: named sets, revisions only when a file changed, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.flags import edits
from services.flags.revision import Authorship, RevisionKind
from services.flags.sources import SourceError, SourceFile, load_sources
from services.flags.store import FlagStore

from .flag_data import CHECKOUT, boolean_flag


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_an_entry_is_a_path_or_a_name_for_a_path() -> None:
    assert SourceFile.parse("flags/a.json") == SourceFile("flags/a.json", Path("flags/a.json"))
    assert SourceFile.parse(" rawflags/x.json = /tmp/x.json ") == SourceFile(
        "rawflags/x.json", Path("/tmp/x.json")
    )
    with pytest.raises(SourceError, match="not a valid flag set id"):
        SourceFile.parse("bad name=/tmp/x.json")
    with pytest.raises(SourceError, match="name the file with 'name=path'"):
        SourceFile.parse("/etc/flags.json")


async def test_each_file_becomes_its_set_as_a_revision(store: FlagStore, tmp_path: Path) -> None:
    first = write(tmp_path / "a.json", CHECKOUT)
    second = write(tmp_path / "b.json", {"flags": {"x": boolean_flag()}})

    written = await load_sources(
        store, (f"checkout={first}", f"flags/b.json={second}"), strict=False
    )

    snapshot = await store.snapshot()
    assert written == 2
    assert [s.id for s in snapshot.sets] == ["checkout", "flags/b.json"]
    revision = (await store.list_revisions("checkout"))[0]
    assert revision.kind is RevisionKind.SOURCE_FILE
    assert revision.author == f"file:{first}"


async def test_an_unchanged_file_writes_nothing_and_api_edits_survive(
    store: FlagStore, tmp_path: Path
) -> None:
    path = write(tmp_path / "a.json", CHECKOUT)
    await load_sources(store, (f"checkout={path}",), strict=False)
    await store.write("checkout", edits.delete_flag("banner"), kind=RevisionKind.DELETE_FLAG,
                      by=Authorship("ann"))  # fmt: skip

    assert await load_sources(store, (f"checkout={path}",), strict=False) == 0
    assert "banner" not in (await store.get("checkout")).document.flags

    write(path, {**CHECKOUT, "flags": {**CHECKOUT["flags"], "new": boolean_flag()}})
    assert await load_sources(store, (f"checkout={path}",), strict=False) == 1
    assert {"banner", "new"} <= set((await store.get("checkout")).document.flags)


async def test_a_file_with_errors_stops_the_start_and_writes_nothing(
    store: FlagStore, tmp_path: Path
) -> None:
    bad = write(tmp_path / "bad.json", {"flags": {"f": boolean_flag(default="nope")}})

    with pytest.raises(SourceError) as refused:
        await load_sources(store, (f"bad={bad}",), strict=False)

    assert "flags.f.defaultVariant: 'nope' is not one of the variants" in str(refused.value)
    assert await store.version() == 0
    with pytest.raises(SourceError, match=r"missing\.json"):
        await load_sources(store, (f"missing={tmp_path / 'missing.json'}",), strict=False)
    with pytest.raises(SourceError, match="same name"):
        await load_sources(store, (f"a={bad}", f"a={bad}"), strict=False)


async def test_targeting_problems_warn_unless_strict(
    store: FlagStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flagd_style = write(tmp_path / "f.json", {"flags": {"f": boolean_flag(targeting={"nope": []})}})

    with pytest.raises(SourceError, match="unknown operator 'nope'"):
        await load_sources(store, (f"f={flagd_style}",), strict=True)
    assert await load_sources(store, (f"f={flagd_style}",), strict=False) == 1
    assert "unknown operator 'nope'" in caplog.text


async def test_a_file_with_whole_number_floats_is_stored_with_integers(
    store: FlagStore, tmp_path: Path
) -> None:
    path = tmp_path / "limits.json"
    path.write_text('{"flags": {"limit": {"state": "ENABLED", "variants": {"ten": 10.0},'
                    ' "defaultVariant": "ten"}}}')  # fmt: skip

    await load_sources(store, (f"limits={path}",), strict=True)

    stored = (await store.get("limits")).document
    assert '"variants": {"ten": 10}' in stored.dumps()
