"""The response cache's key: a digest of everything that shapes a model's answer, and no more.

A key is `v{KEY_VERSION}.{CODEC_VERSION}:` followed by the SHA-256 hex of a canonical JSON
document of the request's model, messages, tools, tool choice and sampling parameters. The
request's cache control and its call context stay out (they change how the answer is cached or
billed, not what it is), except the tenant, which is in by default.

Decisions:

- Tenant: in the key unless the caller asks for a key shared across tenants. One tenant must
  never receive an answer produced for another: a prompt may embed that tenant's data, and even
  the fact that someone else asked the same question is information. Sharing is an explicit
  opt-in (`CachePolicy.shared_across_tenants`).
- Whitespace in content is significant: the model sees the tokens, and "a  b", "a b" and
  "a b\\n" tokenize differently and may get different answers; in code or Markdown whitespace is
  meaning. Normalizing it would serve an answer to a question that was not asked.
- Stop sequences are a set: the provider stops at the first occurrence of any of them, so their
  order and duplicates change nothing; they are sorted and deduplicated.
- Floats are canonical: 0 and 0.0 (and -0.0) are the same temperature. An unset temperature is
  not 0 (providers default to 1), so it stays distinct (`null`).
- Tool parameter schemas are canonical JSON (sorted keys), since the same schema arrives with its
  keys in any order. The order of the tools and of the messages is kept: it is the prompt's.
- A tool call's `index` is left out: it only joins a stream's pieces, and in a whole message the
  position in the list already says it.
- The version prefix: changing this normalization or the value codec changes every key, so old
  entries are never read again and simply expire.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from services.router.cache_codec import CODEC_VERSION
from services.router.chat import ChatRequest, Message, Sampling, Tool

KEY_VERSION = 1
"""Bump when the canonical document below changes."""

KEY_PREFIX = f"v{KEY_VERSION}.{CODEC_VERSION}:"


def cache_key(request: ChatRequest, *, tenant_scoped: bool = True) -> str:
    """The cache key of `request`; with `tenant_scoped` (the default) distinct per tenant."""
    document = canonical_request(request)
    if tenant_scoped:
        document["tenant"] = request.context.tenant
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return KEY_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_request(request: ChatRequest) -> dict[str, Any]:
    """The parts of `request` that shape the answer, as plain JSON values."""
    return {
        "model": request.model,
        "messages": [_message(message) for message in request.messages],
        "tools": [_tool(tool) for tool in request.tools],
        "tool_choice": request.tool_choice,
        "sampling": _sampling(request.sampling),
    }


def _message(message: Message) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "name": message.name,
        "tool_calls": [
            {
                "id": call.id,
                "type": call.type,
                "name": call.function.name,
                "arguments": call.function.arguments,
            }
            for call in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id,
    }


def _tool(tool: Tool) -> dict[str, Any]:
    return {
        "type": tool.type,
        "name": tool.function.name,
        "description": tool.function.description,
        "parameters": _canonical_json(tool.function.parameters),
    }


def _canonical_json(value: Mapping[str, Any]) -> Any:
    """A JSON value with sorted keys and canonical floats, whatever order it arrived in."""
    return json.loads(json.dumps(_normalize(value), sort_keys=True))


def _normalize(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(
            value
        )  # a JSON Schema's 1.0 and 1 mean the same (Struct makes every number float)
    return value


def _sampling(sampling: Sampling) -> dict[str, Any]:
    return {
        "temperature": _float(sampling.temperature),
        "top_p": _float(sampling.top_p),
        "max_tokens": sampling.max_tokens,
        "stop": sorted(set(sampling.stop)),
        "seed": sampling.seed,
    }


def _float(value: float | None) -> float | None:
    # float() makes 0 and 0.0 alike; adding 0.0 turns -0.0 into 0.0.
    return None if value is None else float(value) + 0.0
