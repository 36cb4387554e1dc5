"""JSON values as they arrive in `google.protobuf.Struct` (every number a double), made exact.

A Struct carries 500 as 500.0. Stored configs, content hashes, diffs and rendered text use
`normalize`d values, where a double that holds a whole number (within 2**53, where doubles
are exact) is an int again: `max_tokens: 500` stays 500, and "1.0" never appears in a prompt
because a client's JSON encoder wrote 1 as a double.
"""

from __future__ import annotations

import json
from typing import Any

EXACT = 2**53


def normalize(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT:
        return int(value)
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    return value


def canonical(value: Any) -> str:
    """Compact JSON with sorted keys: the form hashed and stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def as_text(value: Any) -> str:
    """A variable's value as the default format writes it (see RenderPromptRequest)."""
    value = normalize(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
