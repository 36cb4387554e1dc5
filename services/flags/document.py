"""A flag set in flagd's JSON format, as stored: flags, shared evaluators, flag-set metadata.

The stored form is flagd's own document (`{"flags": {...}, "$evaluators": {...}, "metadata":
{...}}`), so exporting a set gives a file flagd loads, and importing a flagd file loses nothing.
Each flag keeps only the keys of flagd's flag definition (`FLAG_FIELDS`); `source` and
`selector`, which flagd adds to what it sends, are dropped on the way in.

Documents are immutable by convention: every method returns a new document and never hands out
a reference another document shares (`copy.deepcopy` of what goes in and out). Equality is JSON
equality, type-strict (`same_json`: `true` is not `1`), which is what decides whether a write
changed anything.

Every document holds whole numbers as integers (`values.normalized`), whatever brought it in: a
flagd file imported or loaded at start, the admin API, or a revision stored before this rule.
flagd reads every JSON number as a float64, so its files say `10.0` or `50.0` and mean 10 and 50,
which the in-process engine only takes as integers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.flags.values import normalized

FLAG_FIELDS = ("state", "variants", "defaultVariant", "targeting", "metadata")
IGNORED_FLAG_FIELDS = ("source", "selector")
"""Fields flagd adds to flags it sends; meaningless in a stored definition."""

ENABLED = "ENABLED"
DISABLED = "DISABLED"

Json = Any
FlagDefinition = dict[str, Json]


@dataclass(frozen=True)
class FlagSetDocument:
    """One flag set's content; `flags` maps each key to its flagd definition."""

    flags: Mapping[str, FlagDefinition] = field(default_factory=dict)
    evaluators: Mapping[str, Json] = field(default_factory=dict)
    metadata: Mapping[str, Json] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Json]) -> FlagSetDocument:
        """From a document already checked by `validation.check_document` (map form); numbers
        normalized (`normalized` copies as it goes, so nothing is shared with `data`)."""
        flags = {
            key: {
                name: normalized(value)
                for name, value in definition.items()
                if name not in IGNORED_FLAG_FIELDS
            }
            for key, definition in data.get("flags", {}).items()
        }
        return cls(
            flags=flags,
            evaluators=normalized(dict(data.get("$evaluators") or {})),
            metadata=normalized(dict(data.get("metadata") or {})),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlagSetDocument):
            return NotImplemented
        return same_json(self.to_json(), other.to_json())

    @classmethod
    def loads(cls, text: str) -> FlagSetDocument:
        """From stored JSON text (written by `dumps`, so already valid)."""
        return cls.from_json(json.loads(text))

    def to_json(self) -> dict[str, Json]:
        """flagd's document; `$evaluators` and `metadata` only when not empty."""
        data: dict[str, Json] = {"flags": copy.deepcopy(dict(self.flags))}
        if self.evaluators:
            data["$evaluators"] = copy.deepcopy(dict(self.evaluators))
        if self.metadata:
            data["metadata"] = copy.deepcopy(dict(self.metadata))
        return data

    def dumps(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_json(), indent=indent, ensure_ascii=False)

    def flag(self, key: str) -> FlagDefinition | None:
        found = self.flags.get(key)
        return None if found is None else copy.deepcopy(found)

    def with_flag(self, key: str, definition: Mapping[str, Json]) -> FlagSetDocument:
        flags = dict(self.flags)
        flags[key] = copy.deepcopy(dict(definition))
        return FlagSetDocument(flags, self.evaluators, self.metadata)

    def without_flag(self, key: str) -> FlagSetDocument:
        flags = {k: v for k, v in self.flags.items() if k != key}
        return FlagSetDocument(flags, self.evaluators, self.metadata)


def flag_set_id_of(definition: Mapping[str, Json], set_metadata: Mapping[str, Json]) -> str | None:
    """The flagd `flagSetId` a flag belongs to: its own metadata's, else its set's."""
    own = definition.get("metadata") or {}
    value = own.get("flagSetId", set_metadata.get("flagSetId"))
    return value if isinstance(value, str) else None


def inline_evaluators(node: Json, evaluators: Mapping[str, Json]) -> Json:
    """`node` with every `{"$ref": name}` replaced by that evaluator; unknown names stay, so
    evaluating them fails as flagd's does (PARSE_ERROR). Evaluators are not inlined into each
    other: flagd does not support nested references either."""
    if isinstance(node, list):
        return [inline_evaluators(item, evaluators) for item in node]
    if isinstance(node, dict):
        if len(node) == 1 and "$ref" in node:
            name = node["$ref"]
            if isinstance(name, str) and name in evaluators:
                return copy.deepcopy(evaluators[name])
            return dict(node)
        return {key: inline_evaluators(value, evaluators) for key, value in node.items()}
    return node


def wire_flag(
    definition: Mapping[str, Json],
    evaluators: Mapping[str, Json],
    set_metadata: Mapping[str, Json],
    source: str,
) -> FlagDefinition:
    """A flag as flagd sends it to clients: `$ref`s inlined, the set's metadata merged under
    the flag's own (the flag wins), `source` naming its flag set, no empty targeting."""
    wire: FlagDefinition = {
        "state": definition["state"],
        "variants": copy.deepcopy(definition["variants"]),
    }
    if definition.get("defaultVariant") is not None:
        wire["defaultVariant"] = definition["defaultVariant"]
    targeting = definition.get("targeting")
    if targeting:
        wire["targeting"] = inline_evaluators(targeting, evaluators)
    metadata = {**set_metadata, **(definition.get("metadata") or {})}
    if metadata:
        wire["metadata"] = copy.deepcopy(metadata)
    wire["source"] = source
    return wire


def same_json(first: Json, second: Json) -> bool:
    """Equal as JSON, type-strict: Python's `==` has `True == 1` and `0 == False`, which would
    take an edit from 1 to true for no change."""
    return _canonical(first) == _canonical(second)


def _canonical(value: Json) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def changes_between(before: Mapping[str, Json], after: Mapping[str, Json]) -> dict[str, str]:
    """flagd's change types per key of two flag maps: write (added), update, delete."""
    changes = {key: "write" for key in after if key not in before}
    changes.update({key: "delete" for key in before if key not in after})
    changes.update(
        {key: "update" for key in after if key in before and not same_json(after[key], before[key])}
    )
    return dict(sorted(changes.items()))


__all__ = [
    "DISABLED",
    "ENABLED",
    "FLAG_FIELDS",
    "FlagDefinition",
    "FlagSetDocument",
    "changes_between",
    "flag_set_id_of",
    "inline_evaluators",
    "same_json",
    "wire_flag",
]
