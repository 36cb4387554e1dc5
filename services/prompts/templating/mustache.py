"""The default format: logic-less `{{variable}}` substitution.

It is the subset of Mustache that prompt registries share (Langfuse, MLflow): `{{name}}`, with
optional spaces inside the braces, is replaced by the variable's value as text. There are no
sections, partials, comments, delimiters or HTML-escaping: a prompt is not HTML, and logic
belongs in the Jinja2 format. Any other `{{...}}` (a section `{{#x}}`, a triple mustache
`{{{x}}}`, a typo `{{user name}}`) and an unclosed `{{` are refused when a version is created,
rather than left in the prompt as literal text where nobody notices the variable was never
filled. A lone `}}` is plain text; a literal `{{` is not expressible in this format.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from services.prompts.naming import IDENTIFIER
from services.prompts.templating.errors import TemplateSyntaxError
from services.prompts.templating.limits import too_large, utf8_size

OPEN, CLOSE = "{{", "}}"


@dataclass(frozen=True)
class Slot:
    """Where a variable goes."""

    name: str


@dataclass(frozen=True)
class Parsed:
    parts: tuple[str | Slot, ...]

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(sorted({p.name for p in self.parts if isinstance(p, Slot)}))

    def render(
        self,
        values: Mapping[str, Any],
        as_text: Callable[[Any], str],
        max_bytes: int | None = None,
    ) -> str:
        """Substitute every slot; the caller has checked that `values` has each variable.
        With `max_bytes`, the pieces are counted as they are made and the too-large error is
        raised once they pass it, so an oversized output is never built."""
        pieces: list[str] = []
        size = 0
        for part in self.parts:
            piece = part if isinstance(part, str) else as_text(values[part.name])
            size += utf8_size(piece)
            if max_bytes is not None and size > max_bytes:
                raise too_large(max_bytes)
            pieces.append(piece)
        return "".join(pieces)


@functools.lru_cache(maxsize=1024)
def parse(source: str) -> Parsed:
    """Parse `source`; raises TemplateSyntaxError for any `{{...}}` that is not a variable."""
    parts: list[str | Slot] = []
    position = 0
    while (start := source.find(OPEN, position)) >= 0:
        end = source.find(CLOSE, start + len(OPEN))
        line = source.count("\n", 0, start) + 1
        if end < 0:
            raise TemplateSyntaxError("'{{' is never closed by '}}'", line)
        inner = source[start + len(OPEN) : end].strip()
        if not IDENTIFIER.fullmatch(inner):
            shown = source[start : end + len(CLOSE)][:60]
            raise TemplateSyntaxError(
                f"{shown!r} is not a variable: the default format substitutes {{{{name}}}} "
                "only (letters, digits, '_'); use the jinja2 format for logic",
                line,
            )
        if start > position:
            parts.append(source[position:start])
        parts.append(Slot(inner))
        position = end + len(CLOSE)
    if position < len(source):
        parts.append(source[position:])
    return Parsed(tuple(parts))
