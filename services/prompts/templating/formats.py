"""One interface over the two template formats: check a source, list its variables, render it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.prompts.json_values import as_text
from services.prompts.model import TemplateFormat
from services.prompts.templating import mustache, sandbox


def variables(template_format: TemplateFormat, source: str) -> tuple[str, ...]:
    """The variables of `source`, sorted; raises TemplateSyntaxError when it does not parse."""
    if template_format is TemplateFormat.JINJA2:
        sandbox.check(source)
        return sandbox.variables(source)
    return mustache.parse(source).variables


def render(
    template_format: TemplateFormat, source: str, values: Mapping[str, Any], max_bytes: int
) -> str:
    """Render `source`. The default format needs every variable in `values` (the caller checks
    first); Jinja2 reports what is missing as a RenderError of kind "undefined"."""
    if template_format is TemplateFormat.JINJA2:
        return sandbox.render(source, values, max_bytes)
    return mustache.parse(source).render(values, as_text, max_bytes)
