"""The change log (`prompts_changes`): every write appends its changes in its transaction.

Other replicas and WatchPromptChanges read the log by sequence ("everything after n"). That is
only safe if sequences become visible in order: a reader that has seen n must never later find
a row below n. PostgreSQL assigns identity values when rows are inserted, not when they
commit, so two concurrent writers could commit 8 before 7 and a reader between the two commits
would skip 7 for ever. So on PostgreSQL the append takes a transaction-scoped advisory lock
first, as the last step of every write: writers append one at a time, each holding the lock
until it commits, so sequence order is commit order. Writes to the registry are rare (people
editing prompts), so serialising their last step costs nothing that matters; the row locks
that decide version numbers and label moves are taken before it, always in the same order, so
there is no deadlock. On SQLite whole write transactions are serialised already.

A rolled-back write leaves a gap in the sequences; readers never wait for gaps to fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.prompts.model import Change, ChangeKind
from services.prompts.rows import change_from_row
from services.prompts.tables import changes

APPEND_LOCK = 0x5B_0A7E_0105
"""Advisory lock key serialising appends on PostgreSQL (any constant no other lock uses)."""


@dataclass(frozen=True)
class NewChange:
    kind: ChangeKind
    name: str
    version: int = 0
    label: str = ""


async def append(conn: AsyncConnection, items: Sequence[NewChange], now: datetime) -> None:
    if not items:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
    rows = [
        {
            "kind": c.kind.value,
            "name": c.name,
            "version": c.version,
            "label": c.label,
            "changed_at": now,
        }
        for c in items
    ]
    await conn.execute(insert(changes), rows)


async def read_after(
    conn: AsyncConnection, after: int, *, upto: int | None = None, limit: int = 1000
) -> list[Change]:
    """Changes with `after` < sequence (<= `upto`), oldest first, at most `limit`."""
    query = select(changes).where(changes.c.sequence > after)
    if upto is not None:
        query = query.where(changes.c.sequence <= upto)
    rows = (await conn.execute(query.order_by(changes.c.sequence).limit(limit))).all()
    return [change_from_row(row._mapping) for row in rows]


async def head(conn: AsyncConnection) -> int:
    """The newest sequence, 0 for an empty log."""
    return int(await conn.scalar(select(func.max(changes.c.sequence))) or 0)


async def oldest(conn: AsyncConnection) -> int | None:
    value = await conn.scalar(select(func.min(changes.c.sequence)))
    return None if value is None else int(value)


async def trim(conn: AsyncConnection, before: datetime) -> int:
    """Deletes the changes made before `before`, as a prefix of the log (so "everything after
    n" stays either complete or detectably cut), always keeping the newest, which holds the
    log's position across restarts; returns how many were deleted."""
    old = select(func.max(changes.c.sequence)).where(changes.c.changed_at < before)
    cut = await conn.scalar(old)
    newest = await head(conn)
    if cut is None or newest == 0:
        return 0
    cut = min(int(cut), newest - 1)
    result = await conn.execute(delete(changes).where(changes.c.sequence <= cut))
    return int(result.rowcount)
