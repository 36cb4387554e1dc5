"""Versions: created once, never changed; read by number or by label.

Creating a version is one write (see `store`): insert the prompt's row if it is new (a
concurrent first create waits for the other, then finds the row), lock the row, then either
find a version with the same content hash (idempotence: it is returned, nothing is added) or
number the new one `latest_version + 1` and store that number on the prompt's row. The row lock
makes concurrent creates take turns, so their numbers are distinct and consecutive on
PostgreSQL and SQLite alike; the unique constraints on (prompt, number) and (prompt, content
hash) back this up. In the same transaction `latest` moves to the new version, the labels named
in the request move to the returned version, the tags are replaced when given, and the changes
are logged. A prompt's type is fixed by its first version: a version of the other type is
FAILED_PRECONDITION (PROMPT_TYPE_MISMATCH), and nothing is written.

There is no statement that updates or deletes a version row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.prompts import labels as label_ops
from services.prompts.drafts import Prepared
from services.prompts.json_values import canonical
from services.prompts.model import LATEST, ChangeKind, Created, Found, Selector, Version
from services.prompts.rows import version_from_row
from services.prompts.store import (
    PromptRow,
    Write,
    ensure_prompt,
    find_prompt,
    label_not_found,
    lock_prompt,
    prompt_not_found,
    version_not_found,
)
from services.prompts.tables import labels, prompts, tags, versions
from svckit.errors import FailedPrecondition


async def create(w: Write, prepared: Prepared) -> Created:
    draft = prepared.draft
    await ensure_prompt(w, draft.name, draft.template.type)
    prompt = await lock_prompt(w.conn, draft.name)
    if prompt.type is not draft.template.type:
        raise FailedPrecondition(
            f"{draft.name!r} is a {prompt.type.value} prompt; its versions cannot be "
            f"{draft.template.type.value}",
            reason="PROMPT_TYPE_MISMATCH",
            metadata={"name": draft.name, "type": prompt.type.value},
        )
    query = select(versions.c.version).where(
        versions.c.prompt_id == prompt.id, versions.c.content_hash == prepared.content_hash
    )
    existing = await w.conn.scalar(query)
    number = int(existing) if existing is not None else await _add(w, prompt, prepared)
    for label in draft.labels:
        await label_ops.point(
            w, prompt, label, number, actor=draft.author, reason="named by CreatePromptVersion"
        )
    if prepared.tags is not None:
        await _replace_tags(w, prompt, prepared.tags)
    version = await read(w.conn, prompt, number)
    assert version is not None
    return Created(version, created=existing is None)


async def _add(w: Write, prompt: PromptRow, prepared: Prepared) -> int:
    draft = prepared.draft
    number = prompt.latest_version + 1
    await w.conn.execute(
        insert(versions).values(
            prompt_id=prompt.id,
            version=number,
            content_hash=prepared.content_hash,
            template_format=draft.template.format.value,
            template=prepared.template_json,
            config=prepared.config_json,
            variables=canonical(list(prepared.variables)),
            commit_message=draft.commit_message,
            author=draft.author,
            created_at=w.now,
        )
    )
    await w.conn.execute(
        update(prompts)
        .where(prompts.c.id == prompt.id)
        .values(latest_version=number, updated_at=w.now)
    )
    w.change(ChangeKind.VERSION_CREATED, prompt.name, number)
    await label_ops.point(
        w, prompt, LATEST, number, actor=draft.author, reason=f"version {number} created"
    )
    return number


async def _replace_tags(w: Write, prompt: PromptRow, wanted: Sequence[str]) -> None:
    if set(wanted) == set(await tags_of(w.conn, prompt.id)):
        return
    await w.conn.execute(delete(tags).where(tags.c.prompt_id == prompt.id))
    if wanted:
        await w.conn.execute(insert(tags), [{"prompt_id": prompt.id, "tag": t} for t in wanted])
    await w.conn.execute(update(prompts).where(prompts.c.id == prompt.id).values(updated_at=w.now))
    w.change(ChangeKind.TAGS_CHANGED, prompt.name)


async def get(conn: AsyncConnection, name: str, selector: Selector) -> Found:
    """The version `selector` names; NotFound says whether the prompt, the label or the
    version is missing. One statement: the hot path of every uncached read."""
    query = _version_query(name)
    if selector.version:
        query = query.where(versions.c.version == selector.version)
    else:
        chosen = labels.alias("chosen")
        query = query.join(
            chosen,
            (chosen.c.prompt_id == versions.c.prompt_id) & (chosen.c.version == versions.c.version),
        ).where(chosen.c.label == selector.effective_label)
    row = (await conn.execute(query)).first()
    if row is None:
        raise await _not_found(conn, name, selector)
    mapping = row._mapping
    version = version_from_row(
        mapping,
        name,
        mapping["type"],
        _split(mapping["version_labels"]),
        _split(mapping["prompt_tags"]),
    )
    return Found(version, selector.effective_label)


def _version_query(name: str) -> Select[Any]:
    """A version with its prompt's type, the labels at it and the prompt's tags (labels and
    tags hold no commas, so each list is one comma-separated aggregate)."""
    at_version = (
        select(func.aggregate_strings(labels.c.label, ","))
        .where(labels.c.prompt_id == versions.c.prompt_id, labels.c.version == versions.c.version)
        .scalar_subquery()
    )
    of_prompt = (
        select(func.aggregate_strings(tags.c.tag, ","))
        .where(tags.c.prompt_id == versions.c.prompt_id)
        .scalar_subquery()
    )
    return (
        select(
            versions,
            prompts.c.type,
            at_version.label("version_labels"),
            of_prompt.label("prompt_tags"),
        )
        .join(prompts, prompts.c.id == versions.c.prompt_id)
        .where(prompts.c.name == name)
    )


def _split(joined: str | None) -> list[str]:
    return joined.split(",") if joined else []


async def _not_found(conn: AsyncConnection, name: str, selector: Selector) -> Exception:
    if await find_prompt(conn, name) is None:
        return prompt_not_found(name)
    if selector.version:
        return version_not_found(name, selector.version)
    return label_not_found(name, selector.effective_label)


async def read(conn: AsyncConnection, prompt: PromptRow, number: int) -> Version | None:
    query = select(versions).where(versions.c.prompt_id == prompt.id, versions.c.version == number)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return version_from_row(
        row._mapping,
        prompt.name,
        prompt.type.value,
        await _labels_at(conn, prompt.id, number),
        await tags_of(conn, prompt.id),
    )


async def list_versions(
    conn: AsyncConnection, name: str, before: int | None, limit: int
) -> list[Version]:
    """Up to `limit` versions numbered below `before` (all when None), newest first."""
    prompt = await find_prompt(conn, name)
    if prompt is None:
        raise prompt_not_found(name)
    query = select(versions).where(versions.c.prompt_id == prompt.id)
    if before is not None:
        query = query.where(versions.c.version < before)
    rows = (await conn.execute(query.order_by(versions.c.version.desc()).limit(limit))).all()
    pointers = await labels_of(conn, [prompt.id])
    by_version: dict[int, list[str]] = defaultdict(list)
    for label, number in pointers.get(prompt.id, {}).items():
        by_version[number].append(label)
    prompt_tags = await tags_of(conn, prompt.id)
    return [
        version_from_row(
            row._mapping,
            name,
            prompt.type.value,
            by_version[int(row.version)],
            prompt_tags,
        )
        for row in rows
    ]


async def _labels_at(conn: AsyncConnection, prompt_id: int, number: int) -> list[str]:
    query = select(labels.c.label).where(
        labels.c.prompt_id == prompt_id, labels.c.version == number
    )
    return list((await conn.scalars(query)).all())


async def tags_of(conn: AsyncConnection, prompt_id: int) -> list[str]:
    query = select(tags.c.tag).where(tags.c.prompt_id == prompt_id).order_by(tags.c.tag)
    return list((await conn.scalars(query)).all())


async def labels_of(conn: AsyncConnection, prompt_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Every label of each prompt: prompt id -> label -> version."""
    query = select(labels.c.prompt_id, labels.c.label, labels.c.version).where(
        labels.c.prompt_id.in_(prompt_ids)
    )
    found: dict[int, dict[str, int]] = defaultdict(dict)
    for prompt_id, label, number in (await conn.execute(query)).all():
        found[int(prompt_id)][label] = int(number)
    return found
