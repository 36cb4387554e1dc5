"""A request body as JSON, refusing what the services could not carry.

A body that is not JSON is a 400, as at OpenAI (`invalid_json`). So is valid JSON holding a lone
surrogate (`"\\ud800"`): it is not UTF-8, so no protobuf string takes it, and it is refused
here, once, before experiments, prompts or the router see the body.
"""

from __future__ import annotations

import json
import re

from gateway.openai.errors import invalid_request

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def decode_body(raw: bytes) -> object:
    """The JSON value of a request body, or the 400 that says what is wrong with it."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # ValueError also: an integer of over 4300 digits
        raise invalid_request(
            "We could not parse the JSON body of your request.", None, "invalid_json"
        ) from None
    where = _lone_surrogate(body)
    if where is not None:
        place = f"'{where}'" if where else "The request body"
        raise invalid_request(
            f"{place} holds text that is not valid Unicode (a lone surrogate).", where or None
        )
    return body


def _lone_surrogate(body: object) -> str | None:
    """The path of the first string holding a lone surrogate ("" for the body), or None."""
    # A loop, not recursion: the JSON decoder allows nesting deeper than Python's stack.
    pending: list[tuple[object, str]] = [(body, "")]
    while pending:
        value, path = pending.pop()
        if isinstance(value, str) and _has_surrogate(value):
            return path
        if isinstance(value, dict):
            if any(_has_surrogate(key) for key in value):
                return path  # the key itself cannot be named: it is not text
            items = [(child, f"{path}.{key}" if path else key) for key, child in value.items()]
            pending.extend(reversed(items))
        elif isinstance(value, list):
            pending.extend(reversed([(child, f"{path}[{i}]") for i, child in enumerate(value)]))
    return None


def _has_surrogate(text: str) -> bool:
    # json.loads joins valid pairs into one code point, so any surrogate left is a lone one.
    return not text.isascii() and _SURROGATE.search(text) is not None


__all__ = ["decode_body"]
