"""Flag sets and their revisions in SQL (PostgreSQL, or SQLite embedded).

Every write is one transaction that starts by locking the change counter (`tables.sequence`):

    UPDATE flags_sequence SET value = value WHERE id = 1          -- the lock, nothing changed
    read the flag set -> apply the change
    UPDATE flags_sequence SET value = value + 1 RETURNING value   -- the revision number
    INSERT the revision -> write the set
    (PostgreSQL: pg_notify('flags_changed', revision), delivered at commit)

The lock comes first, before anything is read: PostgreSQL's row lock makes concurrent writers
(in any replica) wait for each other, and under READ COMMITTED each then reads what the previous
one committed; on SQLite that first UPDATE takes the database's write lock (the busy timeout
makes the others wait). So a change is always applied to the latest content and no revision is
lost, however many writers there are. Flag changes are operator actions, rare enough that one
global order costs nothing. The counter only moves when a revision is written: a change that
leaves the set as it was writes nothing, and revision numbers have no gaps.
After a commit the store tells its listeners (this replica's `FlagState`), so this replica
serves the change at once; other replicas learn it from the counter (see `change_feed`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.flags.document import FlagSetDocument, changes_between
from services.flags.revision import Authorship, Revision, RevisionKind, WriteResult
from services.flags.snapshot import Snapshot, StoredSet
from services.flags.tables import flag_sets, revisions, sequence
from svckit.errors import FailedPrecondition, NotFound

NOTIFY_CHANNEL = "flags_changed"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

Change = Callable[[str, StoredSet | None], FlagSetDocument | None]
"""The set's new content from its id and current state (None: absent); None deletes it.
Raising a `ServiceError` refuses the change (nothing is written)."""

CommitListener = Callable[[int], Awaitable[None]]

_KEEP = object()


class WriteTransaction:
    """One write in progress: its revision number is already reserved."""

    def __init__(self, conn: AsyncConnection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.recorded: list[int] = []

    async def current(self, flag_set_id: str) -> StoredSet | None:
        row = (
            await self.conn.execute(select(flag_sets).where(flag_sets.c.id == flag_set_id))
        ).first()
        return None if row is None else stored_set(row._mapping)

    async def record(
        self,
        flag_set_id: str,
        before: StoredSet | None,
        after: FlagSetDocument | None,
        kind: RevisionKind,
        by: Authorship,
        source_digest: Any = _KEEP,
    ) -> tuple[Revision, StoredSet | None]:
        """Writes a new revision and the set's new state."""
        bumped = (
            update(sequence)
            .where(sequence.c.id == 1)
            .values(value=sequence.c.value + 1)
            .returning(sequence.c.value)
        )
        number = int((await self.conn.execute(bumped)).scalar_one())
        changes = changes_between(
            before.document.flags if before else {}, after.flags if after else {}
        )
        revision = Revision(
            number, flag_set_id, kind, by.author, by.message, self.now, changes, after
        )
        await self.conn.execute(
            insert(revisions).values(
                id=number,
                flag_set=flag_set_id,
                kind=kind.value,
                document=None if after is None else after.dumps(),
                author=by.author,
                message=by.message,
                changes=json.dumps(changes),
                created_at=self.now,
            )
        )
        stored = await self._write_set(flag_set_id, before, after, number, source_digest)
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": NOTIFY_CHANNEL, "payload": str(number)},
            )
        self.recorded.append(number)
        return revision, stored

    async def _write_set(
        self,
        flag_set_id: str,
        before: StoredSet | None,
        after: FlagSetDocument | None,
        number: int,
        source_digest: Any,
    ) -> StoredSet | None:
        if after is None:
            await self.conn.execute(delete(flag_sets).where(flag_sets.c.id == flag_set_id))
            return None
        values: dict[str, Any] = {
            "document": after.dumps(),
            "revision": number,
            "updated_at": self.now,
        }
        if source_digest is not _KEEP:
            values["source_digest"] = source_digest
        if before is None:
            values.update(id=flag_set_id, position=number, created_at=self.now)
            values.setdefault("source_digest", None)
            await self.conn.execute(insert(flag_sets).values(values))
        else:
            await self.conn.execute(
                update(flag_sets).where(flag_sets.c.id == flag_set_id).values(values)
            )
        return await self.current(flag_set_id)


class FlagStore:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        self._listeners: list[CommitListener] = []

    def on_commit(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    async def version(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(sequence.c.value)) or 0)

    async def snapshot(self) -> Snapshot:
        """Every set. The counter is read first: a set written after it makes the next read
        see a newer version again, never the other way round (no change is ever skipped)."""
        async with self.engine.connect() as conn:
            version = int(await conn.scalar(select(sequence.c.value)) or 0)
            rows = (await conn.execute(select(flag_sets).order_by(flag_sets.c.position))).all()
        return Snapshot(version, tuple(stored_set(row._mapping) for row in rows))

    async def get(self, flag_set_id: str) -> StoredSet:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(flag_sets).where(flag_sets.c.id == flag_set_id))
            ).first()
        if row is None:
            raise NotFound(f"no flag set {flag_set_id!r}", reason="FLAG_SET_NOT_FOUND")
        return stored_set(row._mapping)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[WriteTransaction]:
        """A write transaction holding the global write lock; listeners hear of its revisions
        once it has committed."""
        async with self.engine.begin() as conn:
            lock = update(sequence).where(sequence.c.id == 1).values(value=sequence.c.value)
            await conn.execute(lock)
            write = WriteTransaction(conn, self._now())
            yield write
        if write.recorded:
            for listener in self._listeners:
                await listener(write.recorded[-1])

    async def write(
        self,
        flag_set_id: str,
        change: Change,
        *,
        kind: RevisionKind,
        by: Authorship,
        expected_revision: int = 0,
        source_digest: Any = _KEEP,
    ) -> WriteResult:
        result: WriteResult | None = None
        async with self.transaction() as tx:
            before = await tx.current(flag_set_id)
            if expected_revision and (before is None or before.revision != expected_revision):
                raise FailedPrecondition(
                    f"flag set {flag_set_id!r} is at revision "
                    f"{before.revision if before else 'none'}, not {expected_revision}",
                    reason="REVISION_MISMATCH",
                )
            after = change(flag_set_id, before)
            # Type-strict (FlagSetDocument.__eq__): an edit from 1 to true is a change.
            if after != (before.document if before else None):
                revision, stored = await tx.record(
                    flag_set_id, before, after, kind, by, source_digest
                )
                result = WriteResult(revision, stored, changed=True)
        if result is not None:
            return result
        if before is None:  # a change that deletes an absent set refuses itself first
            raise NotFound(f"no flag set {flag_set_id!r}", reason="FLAG_SET_NOT_FOUND")
        return WriteResult(await self.get_revision(before.revision), before, changed=False)

    async def list_revisions(
        self, flag_set_id: str = "", *, before: int = 0, limit: int = DEFAULT_PAGE_SIZE
    ) -> list[Revision]:
        """Newest first; `before` (exclusive) pages back."""
        query = select(revisions).order_by(revisions.c.id.desc()).limit(min(limit, MAX_PAGE_SIZE))
        if flag_set_id:
            query = query.where(revisions.c.flag_set == flag_set_id)
        if before:
            query = query.where(revisions.c.id < before)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [revision_of(row._mapping, with_document=False) for row in rows]

    async def get_revision(self, revision: int) -> Revision:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(revisions).where(revisions.c.id == revision))).first()
        if row is None:
            raise NotFound(f"no revision {revision}", reason="REVISION_NOT_FOUND")
        return revision_of(row._mapping, with_document=True)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def stored_set(row: RowMapping) -> StoredSet:
    return StoredSet(
        id=row["id"],
        document=FlagSetDocument.loads(row["document"]),
        revision=int(row["revision"]),
        position=int(row["position"]),
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
        source_digest=row["source_digest"],
    )


def revision_of(row: RowMapping, *, with_document: bool) -> Revision:
    document = row["document"]
    return Revision(
        id=int(row["id"]),
        flag_set_id=row["flag_set"],
        kind=RevisionKind(row["kind"]),
        author=row["author"],
        message=row["message"],
        created_at=as_utc(row["created_at"]),
        changes=json.loads(row["changes"]),
        document=FlagSetDocument.loads(document) if with_document and document else None,
    )


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


__all__ = ["NOTIFY_CHANNEL", "Change", "FlagStore", "WriteTransaction", "as_utc", "stored_set"]
