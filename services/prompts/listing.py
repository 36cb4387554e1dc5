"""Listing prompts (by name, filtered) and label history (newest first), a page at a time.

Pages are keyset pages: the next one starts after the last name (prompts) or below the last
history id (moves), so a page stays correct while prompts are added, and costs one indexed
range scan however deep it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.prompts.model import LabelMove, PromptSummary, PromptType
from services.prompts.rows import move_from_row, utc
from services.prompts.store import find_prompt, prompt_not_found
from services.prompts.tables import label_moves, labels, prompts, tags
from services.prompts.versions import labels_of


@dataclass(frozen=True)
class PromptFilter:
    name_prefix: str = ""
    tag: str = ""
    label: str = ""
    type: PromptType | None = None


async def list_prompts(
    conn: AsyncConnection, where: PromptFilter, after: str | None, limit: int
) -> list[PromptSummary]:
    """Up to `limit` prompts named after `after`, by name."""
    query = select(prompts).where(prompts.c.latest_version > 0)
    if where.name_prefix:
        query = query.where(prompts.c.name.startswith(where.name_prefix, autoescape=True))
    if where.tag:
        tagged = select(tags.c.prompt_id).where(tags.c.tag == where.tag)
        query = query.where(prompts.c.id.in_(tagged))
    if where.label:
        labelled = select(labels.c.prompt_id).where(labels.c.label == where.label)
        query = query.where(prompts.c.id.in_(labelled))
    if where.type is not None:
        query = query.where(prompts.c.type == where.type.value)
    if after is not None:
        query = query.where(prompts.c.name > after)
    rows = (await conn.execute(query.order_by(prompts.c.name).limit(limit))).all()
    ids = [int(row.id) for row in rows]
    pointers = await labels_of(conn, ids)
    tagged_ids = await _tags_of(conn, ids)
    return [
        PromptSummary(
            name=row.name,
            type=PromptType(row.type),
            tags=tuple(tagged_ids.get(int(row.id), ())),
            latest_version=int(row.latest_version),
            labels=dict(pointers.get(int(row.id), {})),
            created_at=utc(row.created_at),
            updated_at=utc(row.updated_at),
        )
        for row in rows
    ]


async def _tags_of(conn: AsyncConnection, prompt_ids: Sequence[int]) -> dict[int, list[str]]:
    query = (
        select(tags.c.prompt_id, tags.c.tag)
        .where(tags.c.prompt_id.in_(prompt_ids))
        .order_by(tags.c.tag)
    )
    found: dict[int, list[str]] = {}
    for prompt_id, tag in (await conn.execute(query)).all():
        found.setdefault(int(prompt_id), []).append(tag)
    return found


async def label_history(
    conn: AsyncConnection, name: str, label: str, before: int | None, limit: int
) -> list[tuple[int, LabelMove]]:
    """Up to `limit` moves (of `label` when given) with ids below `before`, newest first,
    each with its id (the next page's start)."""
    prompt = await find_prompt(conn, name)
    if prompt is None:
        raise prompt_not_found(name)
    query = select(label_moves).where(label_moves.c.prompt_id == prompt.id)
    if label:
        query = query.where(label_moves.c.label == label)
    if before is not None:
        query = query.where(label_moves.c.id < before)
    rows = (await conn.execute(query.order_by(label_moves.c.id.desc()).limit(limit))).all()
    return [(int(row.id), move_from_row(row._mapping, name)) for row in rows]
