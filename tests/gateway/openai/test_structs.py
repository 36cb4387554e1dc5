"""`to_struct`'s depth limit is the deepest a tool's parameters the router can still parse."""

from __future__ import annotations

import re
from typing import Any

import pytest
from switchboard.router.v1 import router_service_pb2 as pb

from gateway.openai.structs import MAX_DEPTH, UnfitForStruct, to_struct


def nested(levels: int, inner: Any = None) -> Any:
    value: Any = {} if inner is None else inner
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_the_deepest_allowed_parameters_reach_the_router_intact() -> None:
    request = pb.CompleteRequest(model="m")
    request.tools.add().function.parameters.CopyFrom(to_struct(nested(MAX_DEPTH)))
    wire = pb.StreamCompleteRequest(request=request).SerializeToString()

    assert pb.StreamCompleteRequest.FromString(wire).request == request


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (nested(MAX_DEPTH + 1), "is nested more than 32 levels deep"),
        (nested(MAX_DEPTH, [[]]), "is nested more than 32 levels deep"),
        ({"n": 10**400}, "holds a number too large for a double"),
        ({"n": ["\ud800"]}, "holds text that is not valid Unicode (a lone surrogate)"),
        ({"\udfff": 1}, "holds text that is not valid Unicode (a lone surrogate)"),
    ],
)
def test_what_a_struct_cannot_carry_is_refused(value: Any, reason: str) -> None:
    with pytest.raises(UnfitForStruct, match=re.escape(reason)):
        to_struct(value)
