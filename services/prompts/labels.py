"""Labels: movable pointers at versions, unique per prompt, with the history of every move.

Each operation is one write that locks the prompt's row first, then reads the label, so a
compare-and-set is exact: of two moves expecting the same current version, the second waits for
the first's lock (PostgreSQL) or transaction (SQLite), then finds the label moved and fails
with FAILED_PRECONDITION (reason LABEL_VERSION_MISMATCH, with the expected and current
versions). Without `expected_version` a move is unconditional.

Every change of a label, `latest` included, appends one row to `prompts_label_moves` in the
same transaction: who (the caller's `actor`), when, from which version to which (0 for "none"),
and why. A move to the version the label already points at changes nothing and records nothing.

Rollback points a label back at an earlier version: the one asked for (which must be earlier
than the current one), or else the newest version the label pointed at before that is earlier
than the current one. It is a move recorded as a rollback; no version is created or changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.prompts.model import ChangeKind, LabelAction, LabelMove
from services.prompts.rows import move_from_row
from services.prompts.store import (
    PromptRow,
    Write,
    label_not_found,
    lock_prompt,
    version_not_found,
)
from services.prompts.tables import label_moves, labels, versions
from svckit.errors import FailedPrecondition, InvalidArgument


@dataclass(frozen=True)
class LabelRequest:
    """A move, delete or rollback as asked. `version` 0 on a rollback: the previous one."""

    name: str
    label: str
    version: int = 0
    expected_version: int | None = None
    actor: str = ""
    reason: str = ""


async def point(
    w: Write,
    prompt: PromptRow,
    label: str,
    version: int,
    *,
    action: LabelAction = LabelAction.MOVE,
    actor: str = "",
    reason: str = "",
) -> LabelMove | None:
    """Point `label` at `version` (which exists); None when it already did."""
    current = await current_version(w.conn, prompt.id, label)
    if current == version:
        return None
    if current is None:
        await w.conn.execute(
            insert(labels).values(
                prompt_id=prompt.id, label=label, version=version, updated_at=w.now
            )
        )
    else:
        await w.conn.execute(
            update(labels)
            .where(labels.c.prompt_id == prompt.id, labels.c.label == label)
            .values(version=version, updated_at=w.now)
        )
    w.change(ChangeKind.LABEL_MOVED, prompt.name, version, label)
    return await _record(w, prompt, label, current or 0, version, action, actor, reason)


async def move(w: Write, request: LabelRequest) -> LabelMove | None:
    prompt = await lock_prompt(w.conn, request.name)
    current = await current_version(w.conn, prompt.id, request.label)
    _check_expected(request, current)
    await require_version(w.conn, prompt, request.version)
    return await point(
        w, prompt, request.label, request.version, actor=request.actor, reason=request.reason
    )


async def remove(w: Write, request: LabelRequest) -> LabelMove:
    prompt = await lock_prompt(w.conn, request.name)
    current = await current_version(w.conn, prompt.id, request.label)
    if current is None:
        raise label_not_found(request.name, request.label)
    _check_expected(request, current)
    await w.conn.execute(
        delete(labels).where(labels.c.prompt_id == prompt.id, labels.c.label == request.label)
    )
    w.change(ChangeKind.LABEL_DELETED, prompt.name, 0, request.label)
    return await _record(
        w, prompt, request.label, current, 0, LabelAction.DELETE, request.actor, request.reason
    )


async def rollback(w: Write, request: LabelRequest) -> LabelMove:
    prompt = await lock_prompt(w.conn, request.name)
    current = await current_version(w.conn, prompt.id, request.label)
    if current is None:
        raise label_not_found(request.name, request.label)
    _check_expected(request, current)
    target = request.version or await _previous(w.conn, prompt, request.label, current)
    if target >= current:
        raise InvalidArgument.field(
            "version", f"must be earlier than the label's current version {current}"
        )
    await require_version(w.conn, prompt, target)
    moved = await point(
        w,
        prompt,
        request.label,
        target,
        action=LabelAction.ROLLBACK,
        actor=request.actor,
        reason=request.reason,
    )
    assert moved is not None  # target < current, so the label moved
    return moved


async def current_version(conn: AsyncConnection, prompt_id: int, label: str) -> int | None:
    query = select(labels.c.version).where(labels.c.prompt_id == prompt_id, labels.c.label == label)
    value = await conn.scalar(query)
    return None if value is None else int(value)


async def require_version(conn: AsyncConnection, prompt: PromptRow, version: int) -> None:
    query = select(versions.c.id).where(
        versions.c.prompt_id == prompt.id, versions.c.version == version
    )
    if await conn.scalar(query) is None:
        raise version_not_found(prompt.name, version)


async def _previous(conn: AsyncConnection, prompt: PromptRow, label: str, current: int) -> int:
    query = (
        select(label_moves.c.to_version)
        .where(
            label_moves.c.prompt_id == prompt.id,
            label_moves.c.label == label,
            label_moves.c.to_version > 0,
            label_moves.c.to_version < current,
        )
        .order_by(label_moves.c.id.desc())
        .limit(1)
    )
    value = await conn.scalar(query)
    if value is None:
        raise FailedPrecondition(
            f"label {label!r} of {prompt.name!r} never pointed at a version earlier than "
            f"{current}; name the version to roll back to",
            reason="NO_EARLIER_VERSION",
            metadata={"name": prompt.name, "label": label, "current_version": str(current)},
        )
    return int(value)


def _check_expected(request: LabelRequest, current: int | None) -> None:
    expected = request.expected_version
    if expected is None or expected == (current or 0):
        return
    now = "does not exist" if current is None else f"points at version {current}"
    raise FailedPrecondition(
        f"label {request.label!r} of {request.name!r} {now}, not version {expected}",
        reason="LABEL_VERSION_MISMATCH",
        metadata={
            "name": request.name,
            "label": request.label,
            "expected_version": str(expected),
            "current_version": str(current or 0),
        },
    )


async def _record(
    w: Write,
    prompt: PromptRow,
    label: str,
    from_version: int,
    to_version: int,
    action: LabelAction,
    actor: str,
    reason: str,
) -> LabelMove:
    row = {
        "prompt_id": prompt.id,
        "label": label,
        "from_version": from_version,
        "to_version": to_version,
        "action": action.value,
        "actor": actor,
        "reason": reason,
        "moved_at": w.now,
    }
    await w.conn.execute(insert(label_moves).values(row))
    return move_from_row(row, prompt.name)
