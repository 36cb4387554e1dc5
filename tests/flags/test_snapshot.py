"""What each selector sees of a snapshot, and the payload in-process clients receive."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.flags.document import FlagSetDocument
from services.flags.selector import ALL, Selector, SelectorKind
from services.flags.snapshot import Snapshot, StoredSet

from .flag_data import CHECKOUT, boolean_flag

T = datetime(2026, 11, 27, tzinfo=UTC)


def stored(set_id: str, position: int, data: dict[str, object]) -> StoredSet:
    return StoredSet(set_id, FlagSetDocument.from_json(data), position, position, T, T)


SNAPSHOT = Snapshot(
    7,
    (
        stored("late", 5, {"flags": {"shared": boolean_flag("off"), "solo": boolean_flag()}}),
        stored("checkout", 2, CHECKOUT),
        stored(
            "early",
            1,
            {
                "flags": {
                    "shared": boolean_flag("on"),
                    "tagged": {**boolean_flag(), "metadata": {"flagSetId": "special"}},
                }
            },
        ),
    ),
)


def test_without_selector_every_set_is_merged_a_later_set_winning() -> None:
    view = SNAPSHOT.view(ALL)

    assert set(view.flags) == {"shared", "solo", "tagged", *CHECKOUT["flags"]}
    assert view.flags["shared"]["defaultVariant"] == "off"
    assert view.flags["shared"]["source"] == "late"
    assert view.set_metadata == {}


def test_a_source_selector_sees_one_set_with_its_metadata() -> None:
    view = SNAPSHOT.view(Selector(SelectorKind.SOURCE, "checkout"))

    assert set(view.flags) == set(CHECKOUT["flags"])
    assert view.set_metadata == CHECKOUT["metadata"]
    assert SNAPSHOT.view(Selector(SelectorKind.SOURCE, "nope")).flags == {}


def test_a_flag_set_id_selector_follows_flag_then_set_metadata() -> None:
    payments = SNAPSHOT.view(Selector(SelectorKind.FLAG_SET_ID, "checkout"))
    special = SNAPSHOT.view(Selector(SelectorKind.FLAG_SET_ID, "special"))
    unset = SNAPSHOT.view(Selector(SelectorKind.FLAG_SET_ID, ""))

    assert set(payments.flags) == set(CHECKOUT["flags"])
    assert set(special.flags) == {"tagged"}
    assert set(unset.flags) == {"shared", "solo"}


def test_the_payload_is_flagds_with_evaluators_inlined_and_metadata_merged() -> None:
    payload = json.loads(SNAPSHOT.view(Selector(SelectorKind.SOURCE, "checkout")).payload)

    assert list(payload) == ["flags"]
    checkout = payload["flags"]["new-checkout"]
    assert checkout["targeting"] == {"if": [CHECKOUT["$evaluators"]["is_staff"], "on", None]}
    assert checkout["metadata"] == CHECKOUT["metadata"]
    assert payload["flags"]["model-experiment"]["metadata"] == {
        **CHECKOUT["metadata"],
        "experiment": "models-q4",
    }


def test_views_are_computed_once_per_selector() -> None:
    assert SNAPSHOT.view(ALL) is SNAPSHOT.view(ALL)
    assert SNAPSHOT.find("early") is not None
    assert SNAPSHOT.find("none") is None


def test_changes_between_views_follow_the_wire_form() -> None:
    before = SNAPSHOT.view(Selector(SelectorKind.SOURCE, "checkout"))
    data = {**CHECKOUT, "$evaluators": {"is_staff": {"==": [1, 1]}}}
    after = Snapshot(8, (stored("checkout", 2, data),)).view(
        Selector(SelectorKind.SOURCE, "checkout")
    )

    # Only the flag using the evaluator changed on the wire.
    assert after.changes_since(before) == {"new-checkout": "update"}
