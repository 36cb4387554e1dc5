"""google.protobuf.Struct and Value to plain Python and back.

Protobuf's Struct has one number type, double: the flagd provider turns an evaluation
context's integers into doubles, and the admin API's JSON values arrive the same way. Whole
doubles are turned back into integers (within the 64-bit range, as the flagd engine itself
normalises numbers for fractional hashing), so `{"age": 29}` means what it means in process:
`cat` gives "29", not "29.0", and an integer flag's variant 10 stays an integer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.struct_pb2 import NULL_VALUE, ListValue, Struct, Value
from openfeature.contrib.tools.flagd.core.targeting.custom_ops import normalize_numbers

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def from_struct(struct: Struct) -> dict[str, Any]:
    result: dict[str, Any] = normalize_numbers(
        {key: from_value(value) for key, value in struct.fields.items()}
    )
    return result


def from_value(value: Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {key: from_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [from_value(item) for item in value.list_value.values]
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def to_struct(mapping: Mapping[str, Any]) -> Struct:
    struct = Struct()
    struct.update(dict(mapping))
    return struct


def to_value(item: Any) -> Value:
    value = Value()
    if isinstance(item, dict):
        value.struct_value.update(item)
    elif isinstance(item, list):
        value.list_value.CopyFrom(_list(item))
    elif item is None:
        value.null_value = NULL_VALUE
    elif isinstance(item, bool):
        value.bool_value = item
    elif isinstance(item, int | float):
        value.number_value = item
    else:
        value.string_value = str(item)
    return value


def normalized(item: Any) -> Any:
    """A copy of a flag document's JSON with whole floats as integers, as flagd (which reads
    every number as a float64) answers them: `10.0` is ResolveInt's 10 and a fractional weight.
    Only within int64, what ResolveInt answers; a larger whole number stays a float."""
    if isinstance(item, dict):
        return {key: normalized(value) for key, value in item.items()}
    if isinstance(item, list | tuple):
        return [normalized(value) for value in item]
    if isinstance(item, float) and item.is_integer() and INT64_MIN <= item <= INT64_MAX:
        return int(item)
    return item


def _list(items: list[Any]) -> ListValue:
    result = ListValue()
    result.extend(items)
    return result


__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "from_struct",
    "from_value",
    "normalized",
    "to_struct",
    "to_value",
]
