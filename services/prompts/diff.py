"""Differences between two versions of a prompt: what a reviewer reads before moving a label.

- Templates: a unified diff (3 lines of context, like `git diff`), the files named
  `<name>@<version>`. A chat template is compared as text, each entry under a heading line
  (`### system`, or `### placeholder: history`), so a changed role shows as a changed heading.
- Config: a unified diff of both configs as indented JSON with sorted keys, and the changes key
  by key (added, removed, changed) by dotted path into nested objects; a list is one value.
- Whether the template format changed, and the variables one side uses that the other does not.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.prompts.model import PromptType, Template, Version

CONTEXT_LINES = 3


class ChangeType(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class ConfigChange:
    path: str
    kind: ChangeType
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class VersionDiff:
    from_version: int
    to_version: int
    identical: bool
    template_diff: str
    config_diff: str
    config_changes: tuple[ConfigChange, ...]
    template_format_changed: bool
    variables_added: tuple[str, ...]
    variables_removed: tuple[str, ...]


def diff(old: Version, new: Version) -> VersionDiff:
    return VersionDiff(
        from_version=old.number,
        to_version=new.number,
        identical=old.content_hash == new.content_hash,
        template_diff=_unified(template_text(old.template), template_text(new.template), old, new),
        config_diff=_unified(_config_text(old.config), _config_text(new.config), old, new),
        config_changes=tuple(config_changes(old.config, new.config)),
        template_format_changed=old.template.format is not new.template.format,
        variables_added=tuple(sorted(set(new.variables) - set(old.variables))),
        variables_removed=tuple(sorted(set(old.variables) - set(new.variables))),
    )


def template_text(template: Template) -> str:
    if template.type is PromptType.TEXT:
        return template.text
    blocks = [
        f"### placeholder: {e.placeholder}" if e.is_placeholder else f"### {e.role}\n{e.content}"
        for e in template.messages
    ]
    return "\n".join(blocks)


def config_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = ""
) -> list[ConfigChange]:
    changes: list[ConfigChange] = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        if key not in new:
            changes.append(ConfigChange(path, ChangeType.REMOVED, old=old[key]))
        elif key not in old:
            changes.append(ConfigChange(path, ChangeType.ADDED, new=new[key]))
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            changes += config_changes(old[key], new[key], f"{path}.")
        elif old[key] != new[key] or type(old[key]) is not type(new[key]):
            changes.append(ConfigChange(path, ChangeType.CHANGED, old=old[key], new=new[key]))
    return changes


def _config_text(config: Mapping[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False)


def _unified(before: str, after: str, old: Version, new: Version) -> str:
    if before == after:
        return ""
    lines = difflib.unified_diff(
        before.split("\n"),
        after.split("\n"),
        fromfile=f"{old.name}@{old.number}",
        tofile=f"{new.name}@{new.number}",
        n=CONTEXT_LINES,
        lineterm="",
    )
    return "\n".join(lines) + "\n"
