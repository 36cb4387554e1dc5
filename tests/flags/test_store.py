"""The revisioned store on SQLite and PostgreSQL: revisions, no-ops, optimistic checks, and
many concurrent writers losing nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.flags import edits
from services.flags.database import create_engine
from services.flags.document import FlagSetDocument
from services.flags.revision import Authorship, RevisionKind
from services.flags.store import FlagStore
from services.flags.tables import revisions
from svckit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

from .conftest import START, FakeClock
from .flag_data import CHECKOUT, boolean_flag

ANN = Authorship("ann", "first")
BOB = Authorship("bob", "second")


async def test_a_new_set_is_revision_one_with_its_author(store: FlagStore) -> None:
    result = await store.write(
        "checkout",
        edits.replace(FlagSetDocument.from_json(CHECKOUT)),
        kind=RevisionKind.IMPORT,
        by=ANN,
    )

    assert result.changed
    revision = result.revision
    assert (revision.id, revision.flag_set_id, revision.kind) == (
        1,
        "checkout",
        RevisionKind.IMPORT,
    )
    assert (revision.author, revision.message) == ("ann", "first")
    assert revision.created_at == datetime.fromtimestamp(START, UTC)
    assert revision.changes == {k: "write" for k in sorted(CHECKOUT["flags"])}
    assert result.stored is not None
    assert result.stored.revision == 1
    assert (await store.get("checkout")).document == FlagSetDocument.from_json(CHECKOUT)


async def test_every_change_is_a_revision_numbered_across_sets(
    store: FlagStore, clock: FakeClock
) -> None:
    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    await store.write("b", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    clock.advance(60)
    await store.write(
        "a", edits.create_flag("f", boolean_flag()), kind=RevisionKind.CREATE_FLAG, by=BOB
    )
    await store.write("a", edits.set_state("f", False), kind=RevisionKind.DISABLE_FLAG, by=BOB)

    listed = await store.list_revisions()
    of_a = await store.list_revisions("a")

    assert [r.id for r in listed] == [4, 3, 2, 1]
    assert [(r.id, r.kind, r.changes) for r in of_a] == [
        (4, RevisionKind.DISABLE_FLAG, {"f": "update"}),
        (3, RevisionKind.CREATE_FLAG, {"f": "write"}),
        (1, RevisionKind.CREATE_SET, {}),
    ]
    assert listed[0].document is None  # lists leave the content out
    assert (await store.get_revision(4)).document.flags["f"]["state"] == "DISABLED"  # type: ignore[union-attr]
    assert await store.version() == 4


async def test_a_write_that_changes_nothing_writes_nothing(store: FlagStore) -> None:
    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    await store.write(
        "a", edits.create_flag("f", boolean_flag()), kind=RevisionKind.CREATE_FLAG, by=ANN
    )

    again = await store.write(
        "a", edits.update_flag("f", boolean_flag()), kind=RevisionKind.UPDATE_FLAG, by=BOB
    )

    assert not again.changed
    assert again.revision.id == 2
    assert again.revision.author == "ann"
    assert await store.version() == 2
    assert len(await store.list_revisions()) == 2


async def test_refused_changes_leave_no_trace(store: FlagStore) -> None:
    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)

    with pytest.raises(InvalidArgument):
        await store.write("a", edits.create_flag("f", boolean_flag(default="nope")),
                          kind=RevisionKind.CREATE_FLAG, by=ANN)  # fmt: skip
    with pytest.raises(AlreadyExists):
        await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    with pytest.raises(NotFound):
        await store.write("zz", edits.delete_set(), kind=RevisionKind.DELETE_SET, by=ANN)

    assert await store.version() == 1
    assert (await store.get("a")).document.flags == {}


async def test_expected_revision_refuses_a_stale_write(store: FlagStore) -> None:
    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    await store.write(
        "a", edits.create_flag("f", boolean_flag()), kind=RevisionKind.CREATE_FLAG, by=ANN
    )

    with pytest.raises(FailedPrecondition) as stale:
        await store.write("a", edits.delete_flag("f"), kind=RevisionKind.DELETE_FLAG, by=BOB,
                          expected_revision=1)  # fmt: skip
    current = await store.write("a", edits.delete_flag("f"), kind=RevisionKind.DELETE_FLAG,
                                by=BOB, expected_revision=2)  # fmt: skip

    assert stale.value.reason == "REVISION_MISMATCH"
    assert current.changed
    assert current.revision.id == 3


async def test_deleting_a_set_keeps_its_revisions(store: FlagStore) -> None:
    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    deleted = await store.write("a", edits.delete_set(), kind=RevisionKind.DELETE_SET, by=BOB)

    assert deleted.stored is None
    with pytest.raises(NotFound):
        await store.get("a")
    assert [r.kind for r in await store.list_revisions("a")] == [
        RevisionKind.DELETE_SET, RevisionKind.CREATE_SET,
    ]  # fmt: skip
    assert (await store.get_revision(2)).document is None


async def test_revisions_page_backwards(store: FlagStore) -> None:
    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    for i in range(5):
        await store.write(
            "a", edits.create_flag(f"f{i}", boolean_flag()), kind=RevisionKind.CREATE_FLAG, by=ANN
        )

    first = await store.list_revisions(limit=4)
    rest = await store.list_revisions(before=first[-1].id, limit=4)

    assert [r.id for r in first] == [6, 5, 4, 3]
    assert [r.id for r in rest] == [2, 1]
    with pytest.raises(NotFound):
        await store.get_revision(99)


async def test_commit_listeners_hear_each_new_revision(store: FlagStore) -> None:
    heard: list[int] = []

    async def listen(revision: int) -> None:
        heard.append(revision)

    store.on_commit(listen)
    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    await store.write(
        "a", edits.replace((await store.get("a")).document), kind=RevisionKind.IMPORT, by=ANN
    )

    assert heard == [1]  # the second write changed nothing


async def test_the_snapshot_holds_every_set_in_creation_order(store: FlagStore) -> None:
    for name in ("z", "a", "m"):
        await store.write(name, edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)

    snapshot = await store.snapshot()

    assert snapshot.version == 3
    assert [s.id for s in snapshot.sets] == ["z", "a", "m"]


CONCURRENT_STORES = 3
WRITERS_PER_STORE = 15


async def test_concurrent_writers_lose_no_revision(database_url: str, engine: AsyncEngine) -> None:
    """Writers on separate engines (as separate replicas would be), all adding a flag to the
    same set at once: every flag is there, every revision is there, numbered without gaps."""
    first = FlagStore(engine)
    await first.write("shared", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    pool = {"pool_size": WRITERS_PER_STORE} if database_url.startswith("postgresql") else {}
    engines = [create_engine(database_url, **pool) for _ in range(CONCURRENT_STORES)]
    stores = [FlagStore(e) for e in engines]

    async def add(store: FlagStore, n: int) -> int:
        result = await store.write(
            "shared",
            edits.create_flag(f"flag-{n}", boolean_flag()),
            kind=RevisionKind.CREATE_FLAG,
            by=Authorship(f"writer-{n}"),
        )
        return result.revision.id

    try:
        ids = await asyncio.gather(
            *(
                add(store, i * WRITERS_PER_STORE + j)
                for i, store in enumerate(stores)
                for j in range(WRITERS_PER_STORE)
            )
        )
    finally:
        for e in engines:
            await e.dispose()

    total = CONCURRENT_STORES * WRITERS_PER_STORE
    assert sorted(ids) == list(range(2, total + 2))
    stored = await first.get("shared")
    assert len(stored.document.flags) == total
    assert stored.revision == total + 1
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(revisions)) == total + 1
    # Each revision's content has exactly one more flag than the one before it.
    sizes = [len((await first.get_revision(i)).document.flags) for i in range(1, total + 2)]  # type: ignore[union-attr]
    assert sizes == list(range(total + 1))


@pytest.mark.parametrize(
    ("before", "after"),
    [({"on": 1, "off": 0}, {"on": True, "off": False}),
     ({"a": {"enabled": 1}}, {"a": {"enabled": True}})],
)  # fmt: skip
async def test_an_edit_from_numbers_to_booleans_is_a_change(
    store: FlagStore, before: dict[str, object], after: dict[str, object]
) -> None:
    def flag(variants: dict[str, object]) -> dict[str, object]:
        return {"state": "ENABLED", "variants": variants, "defaultVariant": next(iter(variants))}

    await store.write("a", edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=ANN)
    await store.write("a", edits.create_flag("f", flag(before)), kind=RevisionKind.CREATE_FLAG,
                      by=ANN)  # fmt: skip

    edited = await store.write(
        "a", edits.update_flag("f", flag(after)), kind=RevisionKind.UPDATE_FLAG, by=BOB
    )

    assert edited.changed
    assert edited.revision.changes == {"f": "update"}
    stored = (await store.get("a")).document.flags["f"]["variants"]
    assert json.dumps(stored) == json.dumps(after)
