"""A consistent view of every flag set at one version, and what each selector sees of it.

A `Snapshot` is immutable: a change to the store produces a new one (see `state`). Views are
computed per selector on first use and kept with the snapshot, so a thousand clients on the same
selector share one JSON payload and one engine.

Merging: flag sets are taken in their `position` order (creation order; file sources in the
order of `FLAGS_SOURCE_FILES`), and a later set wins a key two sets define, as with flagd's
ordered sources. Each flag is sent in flagd's wire form (`document.wire_flag`): evaluators
inlined, the set's metadata merged into the flag's, no top-level `metadata` (flagd's sync
payload has none either; every flag carries its own merged metadata).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from openfeature.contrib.tools.flagd.core import FlagdCore

from services.flags.document import (
    FlagDefinition,
    FlagSetDocument,
    changes_between,
    flag_set_id_of,
    wire_flag,
)
from services.flags.selector import ALL, Selector, SelectorKind


@dataclass(frozen=True)
class StoredSet:
    """A flag set as the store holds it now."""

    id: str
    document: FlagSetDocument
    revision: int
    position: int
    created_at: datetime
    updated_at: datetime
    source_digest: str | None = None
    """sha256 of the flag file last loaded into the set (sets from FLAGS_SOURCE_FILES)."""


@dataclass(frozen=True)
class View:
    """The flags one selector sees, in wire form, with the engine evaluating them."""

    flags: Mapping[str, FlagDefinition]
    set_metadata: Mapping[str, Any]
    """The set's own metadata when the view is one flag set; empty otherwise."""

    @cached_property
    def payload(self) -> str:
        """flagd's sync payload: `{"flags": {...}}`."""
        return json.dumps({"flags": self.flags}, ensure_ascii=False, separators=(",", ":"))

    @cached_property
    def engine(self) -> FlagdCore:
        core = FlagdCore()
        # The core takes ownership of (and edits) what it is given: hand it a copy.
        core.set_flags(json.loads(self.payload))
        return core

    def changes_since(self, before: View) -> dict[str, str]:
        return changes_between(before.flags, self.flags)


@dataclass
class Snapshot:
    version: int
    sets: tuple[StoredSet, ...]
    _views: dict[Selector, View] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def find(self, flag_set_id: str) -> StoredSet | None:
        return next((s for s in self.sets if s.id == flag_set_id), None)

    def view(self, selector: Selector = ALL) -> View:
        with self._lock:
            found = self._views.get(selector)
            if found is None:
                found = self._views[selector] = _select(self.sets, selector)
            return found


EMPTY = Snapshot(0, ())


def _select(sets: tuple[StoredSet, ...], selector: Selector) -> View:
    flags: dict[str, FlagDefinition] = {}
    chosen = [s for s in sets if selector.kind != SelectorKind.SOURCE or s.id == selector.value]
    for stored in sorted(chosen, key=lambda s: s.position):
        document = stored.document
        for key, definition in document.flags.items():
            if selector.kind == SelectorKind.FLAG_SET_ID:
                belongs = flag_set_id_of(definition, document.metadata) or ""
                if belongs != selector.value:
                    continue
            flags[key] = wire_flag(definition, document.evaluators, document.metadata, stored.id)
    set_metadata = dict(chosen[0].document.metadata) if len(chosen) == 1 else {}
    return View(flags, set_metadata)


__all__ = ["EMPTY", "Snapshot", "StoredSet", "View"]
