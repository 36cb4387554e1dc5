"""The registry's vocabulary: prompts, immutable versions, label moves and changes.

Plain frozen dataclasses, free of protobuf and SQL: the store builds them from rows, the
servicer converts them to messages, the client renders them locally.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

LATEST = "latest"
"""The label the registry keeps on the newest version; nobody moves it by hand."""

PRODUCTION = "production"
"""The label a read names when it names neither a label nor a version."""

JsonObject = Mapping[str, Any]


class PromptType(StrEnum):
    TEXT = "text"
    CHAT = "chat"


class TemplateFormat(StrEnum):
    MUSTACHE = "mustache"
    JINJA2 = "jinja2"


class LabelAction(StrEnum):
    MOVE = "move"
    DELETE = "delete"
    ROLLBACK = "rollback"


class ChangeKind(StrEnum):
    VERSION_CREATED = "version_created"
    LABEL_MOVED = "label_moved"
    LABEL_DELETED = "label_deleted"
    TAGS_CHANGED = "tags_changed"


@dataclass(frozen=True)
class ChatEntry:
    """One entry of a chat template: a message (role and content template) or a placeholder."""

    role: str = ""
    content: str = ""
    placeholder: str = ""

    @property
    def is_placeholder(self) -> bool:
        return bool(self.placeholder)


@dataclass(frozen=True)
class Template:
    """What a version renders: one text, or chat entries; written in one format."""

    type: PromptType
    format: TemplateFormat
    text: str = ""
    messages: tuple[ChatEntry, ...] = ()

    def sources(self) -> list[tuple[str, str]]:
        """Each template string with its field path (`text`, `messages[2].content`)."""
        if self.type is PromptType.TEXT:
            return [("text", self.text)]
        return [
            (f"messages[{i}].content", entry.content)
            for i, entry in enumerate(self.messages)
            if not entry.is_placeholder
        ]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(e.placeholder for e in self.messages if e.is_placeholder)


@dataclass(frozen=True)
class Draft:
    """A version to create, as asked; `tags` None keeps the prompt's tags."""

    name: str
    template: Template
    config: JsonObject
    commit_message: str = ""
    author: str = ""
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Version:
    """One immutable version; `labels` and `tags` describe the prompt as it was read."""

    name: str
    number: int
    template: Template
    config: JsonObject
    variables: tuple[str, ...]
    content_hash: str
    commit_message: str
    author: str
    created_at: datetime
    labels: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def type(self) -> PromptType:
        return self.template.type

    @property
    def placeholders(self) -> tuple[str, ...]:
        return self.template.placeholders


@dataclass(frozen=True)
class Created:
    version: Version
    created: bool


@dataclass(frozen=True)
class Found:
    """A version and the label it was found by ("" when asked by number)."""

    version: Version
    label: str = ""


@dataclass(frozen=True)
class PromptSummary:
    name: str
    type: PromptType
    tags: tuple[str, ...]
    latest_version: int
    labels: Mapping[str, int]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LabelMove:
    name: str
    label: str
    from_version: int
    to_version: int
    action: LabelAction
    actor: str
    reason: str
    moved_at: datetime


@dataclass(frozen=True)
class Change:
    sequence: int
    kind: ChangeKind
    name: str
    version: int = 0
    label: str = ""
    changed_at: datetime | None = None


@dataclass(frozen=True)
class Selector:
    """Which version a read wants: a number, or a label (`production` when neither)."""

    version: int = 0
    label: str = ""

    @property
    def effective_label(self) -> str:
        return "" if self.version else (self.label or PRODUCTION)


@dataclass(frozen=True)
class Page:
    """Items and the token of the next page ("" on the last)."""

    items: list[Any] = field(default_factory=list)
    next_token: str = ""
