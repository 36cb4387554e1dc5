"""Finding a flag's fractional split and moving its weights."""

from __future__ import annotations

from typing import Any

import pytest

from services.flags.split import find_splits, split_variants, with_weights
from svckit.errors import FailedPrecondition

VARIANTS = {"on": True, "off": False}


def flag(targeting: Any = None) -> dict[str, Any]:
    definition: dict[str, Any] = {"state": "ENABLED", "variants": VARIANTS, "defaultVariant": "off"}
    if targeting is not None:
        definition["targeting"] = targeting
    return definition


def test_splits_are_found_anywhere_in_the_tree() -> None:
    tree = {"if": [{"==": [1, 1]}, {"fractional": [["on", 1]]}, {"fractional": [["off", 1]]}]}

    assert find_splits(tree) == [("if", 1), ("if", 2)]
    assert find_splits({"==": [1, 1]}) == []


def test_an_empty_targeting_gets_a_split_in_variant_order() -> None:
    updated = with_weights(flag(), {"off": 95, "on": 5})

    assert updated["targeting"] == {"fractional": [["on", 5], ["off", 95]]}
    assert split_variants(flag()) == ["on", "off"]


def test_weights_move_in_place_keeping_the_bucketing_and_order() -> None:
    targeting = {
        "if": [
            {"==": [{"var": "tier"}, "beta"]},
            {"fractional": [{"var": "email"}, ["off", 90], ["on", 10]]},
            "off",
        ]
    }
    original = flag(targeting)

    updated = with_weights(original, {"on": 50, "off": 50})

    assert updated["targeting"]["if"][1] == {
        "fractional": [{"var": "email"}, ["off", 50], ["on", 50]]
    }
    assert original["targeting"]["if"][1]["fractional"][1] == ["off", 90]  # not edited in place
    assert split_variants(original) == ["off", "on"]


@pytest.mark.parametrize(
    "targeting",
    [
        {"if": [True, {"fractional": [["on", 1]]}, {"fractional": [["off", 1]]}]},
        {"==": [1, 1]},
        {"fractional": [[{"var": "x"}, 1]]},
        {"fractional": []},
    ],
)
def test_a_rollout_needs_one_literal_split(targeting: Any) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        with_weights(flag(targeting), {"on": 1, "off": 1})
    assert refused.value.reason == "NO_SINGLE_SPLIT"
