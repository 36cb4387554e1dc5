"""Evaluation through openfeature-flagd-core, with flagd's outcomes and errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from services.flags.document import FlagSetDocument
from services.flags.evaluation import (
    Evaluator,
    FlagNotFound,
    FlagParseError,
    GeneralFlagError,
    Resolution,
    TypeMismatch,
    ValueKind,
    kind_of,
)
from services.flags.selector import Selector, SelectorKind
from services.flags.snapshot import Snapshot, StoredSet
from services.flags.validation import parse_document

T = datetime(2026, 11, 27, tzinfo=UTC)
FLAGS: dict[str, Any] = {
    "flags": {
        "static": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a"},
        "staff": {
            "state": "ENABLED",
            "variants": {"yes": True, "no": False},
            "defaultVariant": "no",
            "targeting": {"if": [{"==": [{"var": "team"}, "staff"]}, "yes", None]},
        },
        "no-default": {
            "state": "ENABLED",
            "variants": {"yes": True, "no": False},
            "targeting": {"if": [{"==": [{"var": "team"}, "staff"]}, "yes", None]},
        },
        "off": {"state": "DISABLED", "variants": {"a": 1}, "defaultVariant": "a"},
        "broken": {
            "state": "ENABLED",
            "variants": {"a": 1},
            "defaultVariant": "a",
            "targeting": {"nope": [1]},
        },
        "ghost": {
            "state": "ENABLED",
            "variants": {"a": 1},
            "defaultVariant": "a",
            "targeting": {"if": [True, "zzz", "a"]},
        },
        "divide": {
            "state": "ENABLED",
            "variants": {"a": 1},
            "defaultVariant": "a",
            "targeting": {"if": [{"/": [1, 0]}, "a", "a"]},
        },
        "list": {"state": "ENABLED", "variants": {"a": {"x": 1}}, "defaultVariant": "a"},
        "split": {
            "state": "ENABLED",
            "variants": {"heads": "heads", "tails": "tails"},
            "defaultVariant": "heads",
            "targeting": {"fractional": [["heads", 50], ["tails", 50]]},
        },
        "where": {
            "state": "ENABLED",
            "variants": {"inside": "inside", "outside": "outside"},
            "defaultVariant": "outside",
            "targeting": {"if": [{"==": [{"var": "network"}, "internal"]}, "inside", None]},
            "metadata": {"owner": "platform"},
        },
    },
    "metadata": {"flagSetId": "test", "version": 3},
}


def evaluator(static: dict[str, Any] | None = None, observed: list[Any] | None = None) -> Evaluator:
    document = FlagSetDocument.from_json(FLAGS)
    # The engine accepts arrays as objects; the service must still refuse to answer one.
    document = document.with_flag("list", {**FLAGS["flags"]["list"], "variants": {"a": [1, 2]}})
    snapshot = Snapshot(1, (StoredSet("test", document, 1, 1, T, T),))

    def observe(resolution: Resolution | None, error: str | None) -> None:
        if observed is not None:
            observed.append(resolution or error)

    return Evaluator(lambda: snapshot, static or {}, observe)


def test_static_flags_answer_their_default_variant() -> None:
    resolved = evaluator().resolve("static", ValueKind.STRING)

    assert (resolved.value, resolved.variant, resolved.reason) == ("A", "a", "STATIC")
    assert resolved.metadata == {"flagSetId": "test", "version": 3}


def test_targeting_matches_or_falls_back_to_the_default() -> None:
    flags = evaluator()
    match = flags.resolve("staff", ValueKind.BOOLEAN, {"team": "staff"})
    other = flags.resolve("staff", ValueKind.BOOLEAN, {"team": "sales"})

    assert (match.value, match.variant, match.reason) == (True, "yes", "TARGETING_MATCH")
    assert (other.value, other.variant, other.reason) == (False, "no", "DEFAULT")


def test_no_default_variant_answers_default_without_value() -> None:
    resolved = evaluator().resolve("no-default", ValueKind.BOOLEAN, {"team": "sales"})

    assert (resolved.value, resolved.variant, resolved.reason) == (None, None, "DEFAULT")


def test_disabled_flags_answer_disabled_without_value() -> None:
    resolved = evaluator().resolve("off", ValueKind.INTEGER)

    assert (resolved.value, resolved.variant, resolved.reason) == (None, None, "DISABLED")


@pytest.mark.parametrize(
    ("key", "kind", "error", "code", "message"),
    [
        ("missing", ValueKind.BOOLEAN, FlagNotFound, grpc.StatusCode.NOT_FOUND, "Flag not found"),
        ("static", ValueKind.BOOLEAN, TypeMismatch, grpc.StatusCode.INVALID_ARGUMENT,
         "Type mismatch error"),
        ("broken", ValueKind.INTEGER, FlagParseError, grpc.StatusCode.DATA_LOSS,
         "Error parsing input or configuration"),
        ("ghost", ValueKind.INTEGER, GeneralFlagError, grpc.StatusCode.UNKNOWN, "General error"),
        ("divide", ValueKind.INTEGER, GeneralFlagError, grpc.StatusCode.UNKNOWN, "General error"),
        ("list", ValueKind.OBJECT, TypeMismatch, grpc.StatusCode.INVALID_ARGUMENT,
         "Type mismatch error"),
    ],
)  # fmt: skip
def test_errors_carry_flagds_codes_and_messages(
    key: str, kind: ValueKind, error: type[Exception], code: grpc.StatusCode, message: str
) -> None:
    with pytest.raises(error) as raised:
        evaluator().resolve(key, kind)

    assert raised.value.code == code  # type: ignore[attr-defined]
    assert raised.value.message == message  # type: ignore[attr-defined]


def test_static_context_wins_over_the_callers() -> None:
    flags = evaluator(static={"network": "internal"})

    resolved = flags.resolve("where", ValueKind.STRING, {"network": "public"})

    assert (resolved.value, resolved.reason) == ("inside", "TARGETING_MATCH")
    assert resolved.metadata == {"flagSetId": "test", "version": 3, "owner": "platform"}


def test_a_string_targeting_key_buckets_and_any_other_is_dropped() -> None:
    flags = evaluator()
    keyed = {
        flags.resolve("split", ValueKind.STRING, {"targetingKey": f"u{i}"}).value for i in range(40)
    }
    numeric = flags.resolve("split", ValueKind.STRING, {"targetingKey": 12345})

    assert keyed == {"heads", "tails"}
    assert (numeric.value, numeric.reason) == ("heads", "DEFAULT")


def test_assignment_is_sticky_per_targeting_key() -> None:
    flags = evaluator()
    first = [
        flags.resolve("split", ValueKind.STRING, {"targetingKey": f"u{i}"}).value for i in range(50)
    ]
    again = [
        flags.resolve("split", ValueKind.STRING, {"targetingKey": f"u{i}"}).value for i in range(50)
    ]

    assert first == again


def test_selector_scopes_what_can_be_evaluated() -> None:
    with pytest.raises(FlagNotFound):
        evaluator().resolve("static", ValueKind.STRING, selector=Selector(SelectorKind.SOURCE, "x"))


def test_the_observer_sees_every_outcome() -> None:
    observed: list[Any] = []
    flags = evaluator(observed=observed)
    flags.resolve("static", ValueKind.STRING)
    with pytest.raises(FlagNotFound):
        flags.resolve("missing", ValueKind.STRING)

    assert isinstance(observed[0], Resolution)
    assert observed[0].variant == "a"
    assert observed[1] == "FLAG_NOT_FOUND"


def test_a_flags_type_comes_from_its_variants() -> None:
    assert kind_of({"a": True}) is ValueKind.BOOLEAN
    assert kind_of({"a": "x"}) is ValueKind.STRING
    assert kind_of({"a": 1}) is ValueKind.FLOAT
    assert kind_of({"a": {"b": 1}}) is ValueKind.OBJECT
    assert kind_of({"a": [1]}) is None


def test_a_flagd_file_with_whole_number_floats_answers_as_flagd_does() -> None:
    # flagd reads every number as a float64: 10.0 is ResolveInt's 10, 50.0 a split weight.
    text = json.dumps({"flags": {
        "limit": {"state": "ENABLED", "variants": {"ten": 10.0, "twenty": 20.0},
                  "defaultVariant": "ten"},
        "exp": {"state": "ENABLED", "variants": {"a": "A", "b": "B"}, "defaultVariant": "a",
                "targeting": {"fractional": [["a", 50.0], ["b", 50.0]]}},
    }})  # fmt: skip
    document, _ = parse_document(text)
    assert document is not None
    snapshot = Snapshot(1, (StoredSet("file", document, 1, 1, T, T),))
    flags = Evaluator(lambda: snapshot, {})

    limit = flags.resolve("limit", ValueKind.INTEGER)
    split = {flags.resolve("exp", ValueKind.STRING, {"targetingKey": f"user-{i}"}).variant
             for i in range(50)}  # fmt: skip

    assert (limit.value, limit.variant, limit.reason) == (10, "ten", "STATIC")
    assert split == {"a", "b"}
