"""Revisions: every change to a flag set, with who made it, why, and what it touched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from services.flags.document import FlagSetDocument
from services.flags.snapshot import StoredSet


class RevisionKind(Enum):
    CREATE_SET = "CREATE_SET"
    DELETE_SET = "DELETE_SET"
    IMPORT = "IMPORT"
    CREATE_FLAG = "CREATE_FLAG"
    UPDATE_FLAG = "UPDATE_FLAG"
    DELETE_FLAG = "DELETE_FLAG"
    DISABLE_FLAG = "DISABLE_FLAG"
    ENABLE_FLAG = "ENABLE_FLAG"
    ROLLBACK = "ROLLBACK"
    ROLLOUT_STEP = "ROLLOUT_STEP"
    SOURCE_FILE = "SOURCE_FILE"


@dataclass(frozen=True)
class Revision:
    id: int
    flag_set_id: str
    kind: RevisionKind
    author: str
    message: str
    created_at: datetime
    changes: Mapping[str, str] = field(default_factory=dict)
    """Flag key -> flagd's change type ("write", "update", "delete")."""
    document: FlagSetDocument | None = None
    """The set's content after this revision (None: the revision deleted the set, or the
    content was not loaded)."""


@dataclass(frozen=True)
class Authorship:
    """Who makes a change and why."""

    author: str
    message: str = ""


@dataclass(frozen=True)
class WriteResult:
    revision: Revision
    """The revision written, or the set's current one when nothing changed."""
    stored: StoredSet | None
    """The set after the write (None when it was deleted)."""
    changed: bool


__all__ = ["Authorship", "Revision", "RevisionKind", "WriteResult"]
