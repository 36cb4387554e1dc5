"""The stored flagd document and the wire form clients receive."""

from __future__ import annotations

from services.flags.document import (
    FlagSetDocument,
    changes_between,
    flag_set_id_of,
    inline_evaluators,
    same_json,
    wire_flag,
)

from .flag_data import CHECKOUT, boolean_flag


def test_documents_round_trip_through_json_and_compare_by_content() -> None:
    document = FlagSetDocument.from_json(CHECKOUT)

    assert FlagSetDocument.loads(document.dumps()) == document
    assert document.to_json() == CHECKOUT
    assert FlagSetDocument.from_json({"flags": {}}).to_json() == {"flags": {}}


def test_documents_never_share_what_they_hand_out() -> None:
    document = FlagSetDocument.from_json(CHECKOUT)
    copy = document.flag("banner")
    assert copy is not None
    copy["variants"]["red"] = "changed"

    assert document.flags["banner"]["variants"]["red"] == "#f00"
    assert document.flag("missing") is None


def test_with_and_without_a_flag_make_new_documents() -> None:
    document = FlagSetDocument.from_json(CHECKOUT)

    added = document.with_flag("x", boolean_flag())
    removed = added.without_flag("banner")

    assert "x" in added.flags
    assert "x" not in document.flags
    assert "banner" not in removed.flags
    assert "banner" in added.flags
    assert removed.evaluators == document.evaluators


def test_refs_are_inlined_anywhere_and_unknown_ones_stay() -> None:
    evaluators = {"staff": {"==": [{"var": "team"}, "staff"]}}
    tree = {"if": [{"$ref": "staff"}, {"or": [{"$ref": "staff"}, {"$ref": "nope"}]}, "x"]}

    assert inline_evaluators(tree, evaluators) == {
        "if": [evaluators["staff"], {"or": [evaluators["staff"], {"$ref": "nope"}]}, "x"]
    }


def test_wire_form_merges_set_metadata_under_the_flags_and_drops_empty_targeting() -> None:
    definition = {**boolean_flag(), "targeting": {}, "metadata": {"team": "growth", "x": 1}}

    wire = wire_flag(definition, {}, {"team": "payments", "flagSetId": "s"}, "set-a")

    assert wire == {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "on",
        "metadata": {"team": "growth", "flagSetId": "s", "x": 1},
        "source": "set-a",
    }
    assert "defaultVariant" not in wire_flag(
        {**boolean_flag(), "defaultVariant": None}, {}, {}, "s"
    )


def test_a_flags_flag_set_id_is_its_own_else_its_sets() -> None:
    assert flag_set_id_of({"metadata": {"flagSetId": "own"}}, {"flagSetId": "set"}) == "own"
    assert flag_set_id_of({}, {"flagSetId": "set"}) == "set"
    assert flag_set_id_of({}, {}) is None


def test_changes_use_flagds_words() -> None:
    before = {"kept": {"a": 1}, "changed": {"a": 1}, "gone": {"a": 1}}
    after = {"kept": {"a": 1}, "changed": {"a": 2}, "new": {"a": 1}}

    assert changes_between(before, after) == {"changed": "update", "gone": "delete", "new": "write"}


def test_equality_is_type_strict_json_equality() -> None:
    numbers = FlagSetDocument.from_json({"flags": {"f": boolean_flag(), "n": {"v": {"on": 1}}}})
    booleans = FlagSetDocument.from_json({"flags": {"f": boolean_flag(), "n": {"v": {"on": True}}}})
    reordered = FlagSetDocument.from_json({"flags": {"n": {"v": {"on": 1}}, "f": boolean_flag()}})

    assert numbers != booleans
    assert numbers == reordered
    assert same_json({"a": [0, 1]}, {"a": [0, 1]})
    assert not same_json({"a": [0, 1]}, {"a": [False, True]})
    assert changes_between({"n": {"on": 1}}, {"n": {"on": True}}) == {"n": "update"}


def test_documents_hold_whole_numbers_as_integers_even_when_stored_before() -> None:
    stored = '{"flags": {"n": {"state": "ENABLED", "variants": {"ten": 10.0}}}}'

    document = FlagSetDocument.loads(stored)

    assert document.dumps() == '{"flags": {"n": {"state": "ENABLED", "variants": {"ten": 10}}}}'
