"""A version to create, checked and made ready for storage (`prepare`).

Every problem of a draft is reported at once, each with its field path, before anything is
read or written: a draft that fails here leaves no trace. What is checked: the name, labels,
tags and free-text fields (`naming`), the template's shape for its type (a text prompt has a
non-empty text and no messages; a chat prompt has 1 to 200 entries, each a message with a known
role or a placeholder with a unique identifier), the template's size (`max_template_bytes`
UTF-8 bytes: the text, or the chat messages' contents together), that every template parses in
its format (with the line of the first error), and the config (`config`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.prompts.config import prepare_config
from services.prompts.content import content_hash, template_json
from services.prompts.json_values import canonical
from services.prompts.model import LATEST, Draft, PromptType, Template
from services.prompts.naming import (
    IDENTIFIER,
    MAX_MESSAGE,
    MAX_PERSON,
    check_label,
    check_name,
    check_tags,
    check_text,
)
from services.prompts.templating import formats
from services.prompts.templating.errors import TemplateSyntaxError
from svckit.errors import Violations

CHAT_ROLES = ("system", "developer", "user", "assistant")
MAX_MESSAGES = 200


@dataclass(frozen=True)
class Limits:
    """The size limits of the settings (see `settings.PromptsSettings`)."""

    max_template_bytes: int = 65_536
    max_config_bytes: int = 16_384
    max_render_bytes: int = 1_048_576


@dataclass(frozen=True)
class Prepared:
    """A checked draft with what the store writes."""

    draft: Draft
    config: dict[str, Any]
    variables: tuple[str, ...]
    content_hash: str
    template_json: str
    config_json: str
    tags: tuple[str, ...] | None


def prepare(draft: Draft, limits: Limits) -> Prepared:
    """The draft ready to store; raises InvalidArgument naming every bad field."""
    v = Violations()
    check_name(v, draft.name)
    check_text(v, draft.commit_message, "commit_message", MAX_MESSAGE)
    check_text(v, draft.author, "author", MAX_PERSON)
    _check_labels(v, draft.labels)
    if draft.tags is not None:
        check_tags(v, draft.tags)
    variables = _check_template(v, draft.template, limits.max_template_bytes)
    config = prepare_config(v, draft.config, limits.max_config_bytes)
    v.raise_if_any()
    return Prepared(
        draft=draft,
        config=config,
        variables=variables,
        content_hash=content_hash(draft.template, config),
        template_json=template_json(draft.template),
        config_json=canonical(config),
        tags=None if draft.tags is None else tuple(sorted(set(draft.tags))),
    )


def _check_labels(v: Violations, labels: tuple[str, ...]) -> None:
    for i, label in enumerate(labels):
        field = f"labels[{i}]"
        check_label(v, label, field)
        if label == LATEST:
            v.add(field, "'latest' is kept on the newest version by the registry")
        elif label in labels[:i]:
            v.add(field, "is named twice")


def _check_template(v: Violations, template: Template, max_bytes: int) -> tuple[str, ...]:
    if template.type is PromptType.TEXT:
        v.check(bool(template.text), "text", "is required for a text prompt")
        v.check(not template.messages, "messages", "a text prompt has no messages")
        field = "text"
    else:
        v.check(not template.text, "text", "a chat prompt has messages, not a text")
        _check_entries(v, template)
        field = "messages"
    size = sum(len(source.encode()) for _, source in template.sources())
    if size > max_bytes:
        v.add(field, f"at most {max_bytes} bytes of UTF-8 (this template has {size})")
        return ()
    found: set[str] = set()
    for path, source in template.sources():
        try:
            found.update(formats.variables(template.format, source))
        except TemplateSyntaxError as exc:
            v.add(path, f"{template.format.value} template: {exc.describe()}")
    return tuple(sorted(found))


def _check_entries(v: Violations, template: Template) -> None:
    entries = template.messages
    if not entries:
        v.add("messages", "a chat prompt needs at least one message")
    elif len(entries) > MAX_MESSAGES:
        v.add("messages", f"at most {MAX_MESSAGES} messages")
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        field = f"messages[{i}]"
        if entry.is_placeholder:
            v.check(
                not entry.role and not entry.content, field, "a placeholder has no role or content"
            )
            v.check(
                bool(IDENTIFIER.fullmatch(entry.placeholder)),
                f"{field}.placeholder",
                "must be an identifier (letters, digits, '_')",
            )
            v.check(entry.placeholder not in seen, f"{field}.placeholder", "is used twice")
            seen.add(entry.placeholder)
        else:
            v.check(
                entry.role in CHAT_ROLES, f"{field}.role", "must be one of " + ", ".join(CHAT_ROLES)
            )
