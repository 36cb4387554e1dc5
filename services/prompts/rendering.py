"""Rendering a version with variables and, for chat prompts, placeholder messages.

The same function serves the RenderPrompt RPC and the cached client (which renders locally),
so both give the same answer for the same version.

- A variable the template needs and the call lacks is INVALID_ARGUMENT, one field violation per
  missing variable (`variables.<name>`), reason PROMPT_VARIABLES_MISSING. In the default format
  "needs" is every `{{name}}`, all reported at once; in Jinja2 it is the first variable the
  render found undefined (Jinja2 stops there), so `{% if x is defined %}` keeps `x` optional.
- A placeholder without messages is INVALID_ARGUMENT (`placeholders.<name>`); an empty list is
  a valid value. Placeholder messages are inserted as given, never rendered as templates: they
  are usually a conversation's history, written by users.
- Variables and placeholders given and not used are reported, sorted: a caller passing
  `customer_name` to a template that says `{{customer}}` finds out from the first response.
- The output (text, or every message's content together) is limited to `max_bytes`.
- Other template failures (the sandbox refusing an operation, an error raised by a Jinja2
  expression) are INVALID_ARGUMENT on `variables` with reason TEMPLATE_UNSAFE or
  TEMPLATE_RENDER_FAILED: the values rendered are the caller's input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.prompts.model import PromptType, TemplateFormat, Version
from services.prompts.templating import formats
from services.prompts.templating.errors import RenderError
from svckit.errors import FieldViolation, InvalidArgument

_UNDEFINED_NAME = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)' is undefined")


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    name: str = ""


@dataclass(frozen=True)
class Rendered:
    version: Version
    text: str = ""
    messages: tuple[Message, ...] = ()
    unused_variables: tuple[str, ...] = ()
    unused_placeholders: tuple[str, ...] = ()


def render(
    version: Version,
    variables: Mapping[str, Any],
    placeholders: Mapping[str, Sequence[Message]] | None = None,
    *,
    max_bytes: int = 1_048_576,
) -> Rendered:
    placeholders = placeholders or {}
    _check_present(version, variables, placeholders)
    template = version.template
    budget = _Budget(max_bytes)
    if template.type is PromptType.TEXT:
        text = _render(version, template.text, variables, budget)
        messages: tuple[Message, ...] = ()
    else:
        text, messages = "", tuple(_chat(version, variables, placeholders, budget))
    return Rendered(
        version=version,
        text=text,
        messages=messages,
        unused_variables=tuple(sorted(set(variables) - set(version.variables))),
        unused_placeholders=tuple(sorted(set(placeholders) - set(version.placeholders))),
    )


class _Budget:
    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes

    def spend(self, text: str) -> None:
        self.left -= len(text.encode())
        if self.left < 0:
            raise _too_large()


def _too_large() -> InvalidArgument:
    return InvalidArgument.field(
        "variables", "the rendered prompt is too large", reason="PROMPT_RENDER_TOO_LARGE"
    )


def _chat(
    version: Version,
    variables: Mapping[str, Any],
    placeholders: Mapping[str, Sequence[Message]],
    budget: _Budget,
) -> list[Message]:
    out: list[Message] = []
    for entry in version.template.messages:
        if entry.is_placeholder:
            for message in placeholders[entry.placeholder]:
                budget.spend(message.content)
                out.append(message)
        else:
            out.append(Message(entry.role, _render(version, entry.content, variables, budget)))
    return out


def _check_present(
    version: Version, variables: Mapping[str, Any], placeholders: Mapping[str, Any]
) -> None:
    violations = [
        FieldViolation(f"placeholders.{name}", f"is required by version {version.number}")
        for name in version.placeholders
        if name not in placeholders
    ]
    if version.template.format is TemplateFormat.MUSTACHE:
        violations += _missing(version, variables)
    if violations:
        raise InvalidArgument(violations, reason="PROMPT_VARIABLES_MISSING")


def _missing(version: Version, variables: Mapping[str, Any]) -> list[FieldViolation]:
    return [
        FieldViolation(f"variables.{name}", f"is required by version {version.number}")
        for name in version.variables
        if name not in variables
    ]


def _render(version: Version, source: str, variables: Mapping[str, Any], budget: _Budget) -> str:
    template_format = version.template.format
    try:
        text = formats.render(template_format, source, variables, max(budget.left, 0))
    except RenderError as exc:
        raise _render_failure(version, variables, exc) from None
    budget.spend(text)
    return text


def _render_failure(
    version: Version, variables: Mapping[str, Any], exc: RenderError
) -> InvalidArgument:
    if exc.kind == "too_large":
        return _too_large()
    found = _UNDEFINED_NAME.fullmatch(exc.message) if exc.kind == "undefined" else None
    if found and found[1] in version.variables and found[1] not in variables:
        return InvalidArgument.field(
            f"variables.{found[1]}",
            f"is required by version {version.number}",
            reason="PROMPT_VARIABLES_MISSING",
        )
    reason = "TEMPLATE_UNSAFE" if exc.kind == "unsafe" else "TEMPLATE_RENDER_FAILED"
    return InvalidArgument.field("variables", exc.message, reason=reason)
