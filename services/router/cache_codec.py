"""A cached `Completion` as bytes: compact JSON with a format version.

The value carries `"v": CODEC_VERSION`. A value of another version, or one that is not what this
codec writes (truncated, hand-edited, another program's), does not decode: `decode_completion`
raises `UndecodableValue` and the cache treats it as a miss, so a deployment that changes the
format never serves, nor fails on, what an older one stored. (The version is also part of every
cache key, so after a change old entries are not even looked up.)

JSON rather than pickle: a value read from a shared Redis is data, never code.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from services.router.chat import Choice, Completion, FunctionCall, Message, ToolCall, Usage

CODEC_VERSION = 1

T = TypeVar("T")


class UndecodableValue(ValueError):
    """The bytes are not a completion this codec version wrote."""


def encode_completion(completion: Completion) -> bytes:
    document = {
        "v": CODEC_VERSION,
        "id": completion.id,
        "upstream_model": completion.upstream_model,
        "usage": {
            "input_tokens": completion.usage.input_tokens,
            "output_tokens": completion.usage.output_tokens,
            "cached_tokens": completion.usage.cached_tokens,
            "cache_write_tokens": completion.usage.cache_write_tokens,
        },
        "choices": [_encode_choice(choice) for choice in completion.choices],
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_completion(data: bytes) -> Completion:
    """The completion `encode_completion` wrote; `UndecodableValue` for anything else."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableValue("not JSON") from exc
    document = _typed(document, dict, "value")
    if document.get("v") != CODEC_VERSION:
        raise UndecodableValue(f"codec version {document.get('v')!r}, expected {CODEC_VERSION}")
    usage = _field(document, "usage", dict)
    return Completion(
        id=_field(document, "id", str),
        choices=tuple(
            _decode_choice(_typed(c, dict, "choice")) for c in _field(document, "choices", list)
        ),
        usage=Usage(
            input_tokens=_field(usage, "input_tokens", int),
            output_tokens=_field(usage, "output_tokens", int),
            cached_tokens=_field(usage, "cached_tokens", int),
            # Absent from entries stored before the field existed: none were counted then.
            cache_write_tokens=_typed(usage.get("cache_write_tokens", 0), int, "cache_write"),
        ),
        upstream_model=_field(document, "upstream_model", str),
    )


def _encode_choice(choice: Choice) -> dict[str, Any]:
    message = choice.message
    return {
        "index": choice.index,
        "finish_reason": choice.finish_reason,
        "message": {
            "role": message.role,
            "content": message.content,
            "name": message.name,
            "tool_call_id": message.tool_call_id,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": call.type,
                    "index": call.index,
                    "name": call.function.name,
                    "arguments": call.function.arguments,
                }
                for call in message.tool_calls
            ],
        },
    }


def _decode_choice(document: dict[str, Any]) -> Choice:
    message = _field(document, "message", dict)
    return Choice(
        index=_field(document, "index", int),
        finish_reason=_field(document, "finish_reason", str),
        message=Message(
            role=_field(message, "role", str),
            content=_field(message, "content", str),
            name=_field(message, "name", str),
            tool_call_id=_field(message, "tool_call_id", str),
            tool_calls=tuple(
                _decode_tool_call(_typed(call, dict, "tool call"))
                for call in _field(message, "tool_calls", list)
            ),
        ),
    )


def _decode_tool_call(document: dict[str, Any]) -> ToolCall:
    return ToolCall(
        id=_field(document, "id", str),
        type=_field(document, "type", str),
        index=_field(document, "index", int),
        function=FunctionCall(
            name=_field(document, "name", str), arguments=_field(document, "arguments", str)
        ),
    )


def _field(document: dict[str, Any], name: str, kind: type[T]) -> T:
    if name not in document:
        raise UndecodableValue(f"missing {name!r}")
    return _typed(document[name], kind, name)


def _typed(value: Any, kind: type[T], what: str) -> T:
    # bool is an int in Python, never in this format.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UndecodableValue(f"{what} is not a {kind.__name__}")
    return value
