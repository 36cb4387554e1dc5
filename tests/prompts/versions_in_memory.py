"""Versions made without a database, for the tests of rendering and diffs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.prompts.drafts import Limits, prepare
from services.prompts.model import (
    ChatEntry,
    Draft,
    PromptType,
    Template,
    TemplateFormat,
    Version,
)


def text_template(text: str, fmt: TemplateFormat = TemplateFormat.MUSTACHE) -> Template:
    return Template(PromptType.TEXT, fmt, text=text)


def chat_template(
    *entries: tuple[str, str], fmt: TemplateFormat = TemplateFormat.MUSTACHE
) -> Template:
    """(role, content) pairs; role "placeholder" makes a placeholder named content."""
    messages = tuple(
        ChatEntry(placeholder=content) if role == "placeholder" else ChatEntry(role, content)
        for role, content in entries
    )
    return Template(PromptType.CHAT, fmt, messages=messages)


def version(
    template: Template,
    *,
    number: int = 1,
    config: dict[str, Any] | None = None,
    name: str = "demo/prompt",
    limits: Limits | None = None,
) -> Version:
    prepared = prepare(Draft(name, template, config or {}), limits or Limits())
    return Version(
        name=name,
        number=number,
        template=template,
        config=prepared.config,
        variables=prepared.variables,
        content_hash=prepared.content_hash,
        commit_message="",
        author="",
        created_at=datetime.now(UTC),
    )
