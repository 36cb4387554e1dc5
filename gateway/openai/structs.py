"""A decoded JSON object as a `google.protobuf.Struct`, refusing what a Struct cannot carry.

Valid JSON that a Struct cannot hold fails deep inside protobuf, as a 500 if nobody catches it:
an integer beyond a double's range (`OverflowError`), a lone surrogate such as `"\\ud800"` (not
UTF-8: `UnicodeEncodeError`), and deep nesting. Each JSON object level costs three protobuf
message levels, and parsers stop at 100 (upb's and C++'s default): the gateway's own
constructors raise `DecodeError` from 34 object levels, and the router already refuses 33 levels
of tool parameters inside its request. `to_struct` turns these into one `UnfitForStruct`, so the
tool parameters, prompt variables and OFREP context answer their own 400 from one place each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from gateway.openai.errors import invalid_request

MAX_DEPTH = 32
"""Nested objects and arrays a Struct may hold, counting itself: every receiver parses 32."""


class UnfitForStruct(ValueError):
    """Valid JSON that a Struct cannot carry; the message says why, for the caller."""


def to_struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """`value` as a Struct; UnfitForStruct when nested too deep or holding an unusable value."""
    if _too_deep(value):
        raise UnfitForStruct(f"is nested more than {MAX_DEPTH} levels deep")
    struct = struct_pb2.Struct()
    try:
        struct.update(value)
    except OverflowError:
        raise UnfitForStruct("holds a number too large for a double") from None
    except UnicodeEncodeError:
        raise UnfitForStruct("holds text that is not valid Unicode (a lone surrogate)") from None
    return struct


def struct_param(value: Mapping[str, Any], param: str) -> struct_pb2.Struct:
    """`to_struct` for a field of an OpenAI request: a 400 naming `param` when it does not fit."""
    try:
        return to_struct(value)
    except UnfitForStruct as unfit:
        raise invalid_request(f"'{param}' {unfit}.", param) from None


def _too_deep(value: object) -> bool:
    # A loop, not recursion: the JSON decoder allows nesting deeper than Python's stack.
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping | list):
            if depth > MAX_DEPTH:
                return True
            children = item.values() if isinstance(item, Mapping) else item
            pending.extend((child, depth + 1) for child in children)
    return False


__all__ = ["MAX_DEPTH", "UnfitForStruct", "struct_param", "to_struct"]
