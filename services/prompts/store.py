"""What every write shares: the transaction with its changes, and the prompt's locked row.

A write (`Write`) is one transaction of `Database.write()`; the changes it makes are collected
and appended to the change log as its last step (`change_log.append`), so they commit with it.
Every write locks the prompt's row before it reads what it decides on (see `database`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.prompts import change_log
from services.prompts.change_log import NewChange
from services.prompts.model import ChangeKind, PromptType
from services.prompts.tables import prompts
from svckit.errors import NotFound


@dataclass
class Write:
    conn: AsyncConnection
    now: datetime
    changes: list[NewChange] = field(default_factory=list)

    def change(self, kind: ChangeKind, name: str, version: int = 0, label: str = "") -> None:
        self.changes.append(NewChange(kind, name, version, label))

    async def finish(self) -> None:
        await change_log.append(self.conn, self.changes, self.now)


@dataclass(frozen=True)
class PromptRow:
    id: int
    name: str
    type: PromptType
    latest_version: int


async def ensure_prompt(w: Write, name: str, kind: PromptType) -> None:
    """Insert the prompt's row unless it exists (a concurrent first insert waits, then wins)."""
    values = {
        "name": name,
        "type": kind.value,
        "latest_version": 0,
        "created_at": w.now,
        "updated_at": w.now,
    }
    dialect_insert = pg_insert if w.conn.dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(prompts).values(values).on_conflict_do_nothing(index_elements=["name"])
    )
    await w.conn.execute(statement)


async def lock_prompt(conn: AsyncConnection, name: str) -> PromptRow:
    """The prompt's row, locked until the transaction ends; NotFound when there is none."""
    found = await find_prompt(conn, name, lock=True)
    if found is None:
        raise prompt_not_found(name)
    return found


async def find_prompt(conn: AsyncConnection, name: str, *, lock: bool = False) -> PromptRow | None:
    query = select(prompts.c.id, prompts.c.type, prompts.c.latest_version).where(
        prompts.c.name == name
    )
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return PromptRow(int(row.id), name, PromptType(row.type), int(row.latest_version))


def prompt_not_found(name: str) -> NotFound:
    return NotFound(f"no prompt {name!r}", reason="PROMPT_NOT_FOUND", metadata={"name": name})


def version_not_found(name: str, version: int) -> NotFound:
    return NotFound(
        f"prompt {name!r} has no version {version}",
        reason="VERSION_NOT_FOUND",
        metadata={"name": name, "version": str(version)},
    )


def label_not_found(name: str, label: str) -> NotFound:
    return NotFound(
        f"prompt {name!r} has no label {label!r}",
        reason="LABEL_NOT_FOUND",
        metadata={"name": name, "label": label},
    )
