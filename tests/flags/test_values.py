"""Protobuf Struct and Value to Python and back, whole numbers kept whole."""

from __future__ import annotations

from google.protobuf.struct_pb2 import Struct

from services.flags.values import from_struct, from_value, normalized, to_struct, to_value


def test_values_round_trip_through_protobuf() -> None:
    data = {"s": "x", "b": True, "n": None, "f": 1.5, "l": [1, "a", [False]], "o": {"k": 2}}

    assert from_struct(to_struct(data)) == data
    for item in data.values():
        assert normalized(from_value(to_value(item))) == item
    assert from_value(to_value(object())).startswith("<object")


def test_whole_doubles_become_integers_within_64_bits() -> None:
    struct = Struct()
    struct.update({"age": 29.0, "neg": -0.0, "big": 1e20, "half": 0.5, "deep": {"n": 3.0}})

    result = from_struct(struct)

    assert result == {"age": 29, "neg": 0, "big": 1e20, "half": 0.5, "deep": {"n": 3}}
    assert isinstance(result["age"], int)
    assert isinstance(result["big"], float)
