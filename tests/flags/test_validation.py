"""Checking flag definitions against flagd's schema and the in-process engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.flags.validation import (
    check_flag,
    check_flag_set_id,
    parse_document,
)
from svckit.errors import InvalidArgument

from .flag_data import CHECKOUT, boolean_flag, checkout_json, nested


def errors_of(text: str) -> dict[str, str]:
    _, findings = parse_document(text)
    return {v.field: v.description for v in findings.errors}


def problems_of(text: str) -> dict[str, str]:
    _, findings = parse_document(text)
    return {v.field: v.description for v in findings.targeting}


def with_flag(key: str, definition: Any) -> str:
    return json.dumps({"flags": {key: definition}})


def test_a_valid_document_parses_into_its_flags_evaluators_and_metadata() -> None:
    document, findings = parse_document(checkout_json())

    assert findings.errors == []
    assert findings.targeting == []
    assert document is not None
    assert list(document.flags) == ["new-checkout", "banner", "model-experiment"]
    assert document.evaluators == CHECKOUT["$evaluators"]
    assert document.metadata == CHECKOUT["metadata"]


def test_text_that_is_not_json_is_refused_with_the_parser_message() -> None:
    assert errors_of('{"flags": {')["flagd_json"].startswith("is not valid JSON")
    assert "flagd_json" in errors_of("[1, 2]")
    assert "NaN is not a JSON number" in errors_of('{"flags": {"a": NaN}}')["flagd_json"]


def test_default_variant_not_among_the_variants_is_refused_naming_them() -> None:
    errors = errors_of(with_flag("f", boolean_flag(default="maybe")))

    assert errors == {"flags.f.defaultVariant": "'maybe' is not one of the variants (off, on)"}


def test_unknown_operator_is_a_targeting_problem() -> None:
    problems = problems_of(with_flag("f", boolean_flag(targeting={"ifx": [True, "on", "off"]})))

    assert problems == {"flags.f.targeting": "unknown operator 'ifx'"}


def test_nested_unknown_operators_are_found_with_their_path() -> None:
    targeting = {"if": [{"and": [{"==": [1, 1]}, {"bogus": []}]}, "on", "off"]}
    problems = problems_of(with_flag("f", boolean_flag(targeting=targeting)))

    assert problems == {"flags.f.targeting.if[0].and[1]": "unknown operator 'bogus'"}


def test_flagd_operators_and_jsonlogic_forms_are_known() -> None:
    targeting = {
        "if": [
            {"sem_ver": [{"var": "version"}, ">=", "1.0.0"]},
            {"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]}, ["on", 1]]},
            {"if": [{"starts_with": [{"var": "email"}, "a"]}, "on", None]},
        ]
    }
    assert problems_of(with_flag("f", boolean_flag(targeting=targeting))) == {}


def test_refs_must_name_an_evaluator_of_the_set_and_evaluators_cannot_refer() -> None:
    document = {
        "flags": {"f": boolean_flag(targeting={"if": [{"$ref": "nope"}, "on", "off"]})},
        "$evaluators": {"outer": {"$ref": "inner"}, "inner": {"==": [1, 1]}},
    }
    problems = problems_of(json.dumps(document))

    assert problems == {
        "flags.f.targeting.if[0]": "$ref names no evaluator of this flag set: 'nope'",
        "$evaluators.outer": "an evaluator cannot refer to another evaluator",
    }


def test_targeting_with_several_operations_at_the_top_is_a_problem() -> None:
    problems = problems_of(with_flag("f", boolean_flag(targeting={"==": [1, 1], "!=": [1, 2]})))

    assert problems == {
        "flags.f.targeting": "must be one JsonLogic operation (an object with one key)"
    }


def test_structural_errors_are_all_reported_at_once() -> None:
    document = {
        "flags": {
            "bad key!": boolean_flag(),
            "mixed": {"state": "ON", "variants": {"a": 1, "b": "x"}, "description": "no"},
            "empty": {"state": "ENABLED", "variants": {}},
            "meta": {**boolean_flag(), "metadata": {"owner": {"team": "x"}}},
            "list": {"state": "ENABLED", "variants": {"a": [1, 2]}},
        },
        "extra": True,
        "metadata": {"ok": 1, "bad": None},
    }
    errors = errors_of(json.dumps(document))

    assert errors == {
        "extra": "is not a field of a flagd document",
        "metadata.bad": "must be a string, number or boolean",
        "flags.bad key!": "a flag key is 1-200 of [A-Za-z0-9._:-], starting with a letter or digit",
        "flags.mixed.description": "is not a field of a flagd flag",
        "flags.mixed.state": "must be ENABLED or DISABLED",
        "flags.mixed.variants": "values must all be of one type, found number, string",
        "flags.empty.variants": "must be an object with at least one variant",
        "flags.meta.metadata.owner": "must be a string, number or boolean",
        "flags.list.variants.a": "must be a boolean, string, number or object",
    }


def test_flagd_array_form_becomes_the_map_form() -> None:
    text = json.dumps({"flags": [{"key": "a", **boolean_flag()}, {"key": "b", **boolean_flag()}]})
    document, findings = parse_document(text)

    assert findings.errors == []
    assert document is not None
    assert list(document.flags) == ["a", "b"]
    assert "key" not in document.flags["a"]


def test_array_form_needs_unique_keys() -> None:
    text = json.dumps(
        {"flags": [{"key": "a", **boolean_flag()}, {"key": "a", **boolean_flag()}, {}]}
    )

    assert errors_of(text) == {
        "flags[1].key": "duplicates the key 'a'",
        "flags[2].key": "is required",
    }


def test_fields_flagd_adds_when_sending_are_accepted_and_dropped() -> None:
    text = with_flag("f", {**boolean_flag(), "source": "x.json", "selector": "x.json"})
    document, findings = parse_document(text)

    assert findings.errors == []
    assert document is not None
    assert set(document.flags["f"]) == {
        "state",
        "variants",
        "defaultVariant",
    }


def test_null_or_empty_default_variant_means_none() -> None:
    assert errors_of(with_flag("f", {**boolean_flag(), "defaultVariant": None})) == {}
    assert errors_of(with_flag("f", {**boolean_flag(), "defaultVariant": ""})) == {}
    assert errors_of(with_flag("f", {**boolean_flag(), "defaultVariant": True})) == {
        "flags.f.defaultVariant": "must be a variant name or null"
    }


def test_what_the_engine_refuses_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last check hands the set to the in-process engine as clients will receive it."""
    from openfeature.contrib.tools.flagd.core import FlagdCore
    from openfeature.exception import ParseError

    def refuse(self: FlagdCore, configuration: Any) -> None:
        raise ParseError("refused for the test")

    monkeypatch.setattr(FlagdCore, "set_flags", refuse)

    assert errors_of(with_flag("f", boolean_flag())) == {
        "flags": "refused by the flagd engine: refused for the test"
    }


def test_very_deep_targeting_is_refused() -> None:
    node: Any = True
    for _ in range(80):
        node = {"!": [node]}
    errors = errors_of(with_flag("f", boolean_flag(targeting=node)))

    assert any("nested more than 64 levels" in text for text in errors.values())


def test_check_flag_reports_at_the_given_paths() -> None:
    definition = {"state": "ENABLED", "variants": {"a": 1}, "defaultVariant": "b"}
    findings = check_flag("bad key", definition, {}, "flag.", key_path="flag.key")

    assert {v.field for v in findings.errors} == {"flag.key", "flag.defaultVariant"}
    with pytest.raises(InvalidArgument) as refused:
        findings.raise_if_refused()
    assert refused.value.reason == "INVALID_FLAG_DEFINITION"


def test_flag_set_ids_may_hold_slashes_like_file_names() -> None:
    check_flag_set_id("rawflags/selector-flags.json")
    with pytest.raises(InvalidArgument):
        check_flag_set_id("../etc passwd")
    with pytest.raises(InvalidArgument):
        check_flag_set_id("")


def test_whole_number_floats_become_integers_as_flagd_reads_them() -> None:
    weights = {"fractional": [["ten", 50.0], ["big", 50.0]]}
    text = with_flag("limit", {"state": "ENABLED", "variants": {"ten": 10.0, "big": 1e19},
                               "defaultVariant": "ten", "targeting": weights})  # fmt: skip
    document, findings = parse_document(text)

    assert findings.errors == []
    assert document is not None
    variants = document.flags["limit"]["variants"]
    assert (variants["ten"], type(variants["ten"])) == (10, int)
    assert type(variants["big"]) is float  # beyond int64: stays flagd's float64
    assert json.dumps(document.flags["limit"]["targeting"]) == (
        '{"fractional": [["ten", 50], ["big", 50]]}'
    )


def test_json_nested_past_what_the_decoder_or_checks_take_is_refused() -> None:
    assert errors_of("[" * 5000 + "]" * 5000) == {
        "flagd_json": "is nested more than 256 levels deep"
    }
    assert errors_of(with_flag("f", {"state": "ENABLED", "variants": {"v": nested(400)},
                                     "defaultVariant": "v"})) == {
        "flagd_json": "is nested more than 256 levels deep"
    }  # fmt: skip
    huge = '{"flags": {}, "metadata": {"n": 1' + "0" * 400 + "}}"
    assert errors_of(huge) == {
        "flagd_json": "holds an integer too large for a JSON number (a float64)"
    }


def test_object_variants_deeper_than_a_struct_carries_are_refused() -> None:
    def variant_errors(value: Any) -> dict[str, str]:
        return errors_of(with_flag("f", {"state": "ENABLED", "variants": {"v": value},
                                         "defaultVariant": "v"}))  # fmt: skip

    assert variant_errors(nested(32)) == {}
    assert variant_errors(nested(33)) == {
        "flags.f.variants.v": "is nested more than 32 levels deep"
    }
    assert variant_errors([nested(200)]) == {
        "flags.f.variants.v": "must be a boolean, string, number or object"
    }


def test_integer_variants_outside_int64_are_refused() -> None:
    def variant_errors(*values: int) -> dict[str, str]:
        variants = {f"v{i}": value for i, value in enumerate(values)}
        return errors_of(with_flag("f", {"state": "ENABLED", "variants": variants,
                                         "defaultVariant": "v0"}))  # fmt: skip

    assert variant_errors(2**63 - 1, -(2**63)) == {}
    assert variant_errors(1, 2**63, -(2**63) - 1) == {
        "flags.f.variants.v1": "is outside the 64-bit range ResolveInt answers in",
        "flags.f.variants.v2": "is outside the 64-bit range ResolveInt answers in",
    }
