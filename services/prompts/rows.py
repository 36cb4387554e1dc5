"""Rows of the registry's tables turned into the model's objects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.prompts.content import template_from_json
from services.prompts.model import (
    Change,
    ChangeKind,
    LabelAction,
    LabelMove,
    PromptType,
    TemplateFormat,
    Version,
)


def utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def version_from_row(
    row: Any, name: str, kind: str, labels: Sequence[str] = (), tags: Sequence[str] = ()
) -> Version:
    """`row`: a prompts_versions row (mapping); `kind`: the prompt's type."""
    template = template_from_json(
        PromptType(kind), TemplateFormat(row["template_format"]), row["template"]
    )
    return Version(
        name=name,
        number=int(row["version"]),
        template=template,
        config=json.loads(row["config"]),
        variables=tuple(json.loads(row["variables"])),
        content_hash=row["content_hash"],
        commit_message=row["commit_message"],
        author=row["author"],
        created_at=utc(row["created_at"]),
        labels=tuple(sorted(labels)),
        tags=tuple(sorted(tags)),
    )


def move_from_row(row: Any, name: str) -> LabelMove:
    return LabelMove(
        name=name,
        label=row["label"],
        from_version=int(row["from_version"]),
        to_version=int(row["to_version"]),
        action=LabelAction(row["action"]),
        actor=row["actor"],
        reason=row["reason"],
        moved_at=utc(row["moved_at"]),
    )


def change_from_row(row: Any) -> Change:
    return Change(
        sequence=int(row["sequence"]),
        kind=ChangeKind(row["kind"]),
        name=row["name"],
        version=int(row["version"]),
        label=row["label"],
        changed_at=utc(row["changed_at"]),
    )
