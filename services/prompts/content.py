"""A version's content, as stored and as hashed.

The content is what makes a version: its type, template format, templates and config. Its hash
is SHA-256 over the canonical JSON of those four (sorted keys, compact, numbers normalized), so
two versions with the same content have the same hash whatever the order of the config's keys
or the way a client wrote its numbers; the commit message and the author are not content.
Templates are stored as JSON: a string for a text prompt, a list of `{"role", "content"}` and
`{"placeholder"}` objects for a chat prompt.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from services.prompts.json_values import canonical
from services.prompts.model import ChatEntry, JsonObject, PromptType, Template, TemplateFormat


def template_value(template: Template) -> Any:
    if template.type is PromptType.TEXT:
        return template.text
    return [
        {"placeholder": e.placeholder}
        if e.is_placeholder
        else {"role": e.role, "content": e.content}
        for e in template.messages
    ]


def template_from_value(kind: PromptType, template_format: TemplateFormat, value: Any) -> Template:
    if kind is PromptType.TEXT:
        return Template(kind, template_format, text=str(value))
    entries = tuple(
        ChatEntry(placeholder=item["placeholder"])
        if "placeholder" in item
        else ChatEntry(role=item["role"], content=item["content"])
        for item in value
    )
    return Template(kind, template_format, messages=entries)


def template_json(template: Template) -> str:
    return json.dumps(template_value(template), ensure_ascii=False)


def template_from_json(kind: PromptType, template_format: TemplateFormat, text: str) -> Template:
    return template_from_value(kind, template_format, json.loads(text))


def content_hash(template: Template, config: JsonObject) -> str:
    content = {
        "type": template.type.value,
        "format": template.format.value,
        "template": template_value(template),
        "config": config,
    }
    return hashlib.sha256(canonical(content).encode()).hexdigest()
