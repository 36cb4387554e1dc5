"""Checks a flag definition against flagd's flag schema before anything is stored.

Two kinds of findings:

- errors: what flagd's schema or the in-process engine would refuse (not JSON, a missing or
  unknown field, a `state` other than ENABLED/DISABLED, variants of mixed types, a
  `defaultVariant` that is not one of the variants, non-scalar metadata), and what clients could
  not be sent (an integer variant outside int64, a variant nested deeper than a Struct carries,
  a document nested deeper than the checks walk). A document with errors is never stored,
  wherever it comes from.
- targeting problems: JsonLogic that cannot evaluate (an unknown operator, a `$ref` to no
  evaluator, nested references, more than one operation at the top). Writes through the admin
  API refuse them too. Flag files loaded at start (`FLAGS_SOURCE_FILES`) only log them unless
  `FLAGS_STRICT_SOURCES` is set, because flagd itself loads such files with a warning and
  answers PARSE_ERROR at evaluation; the flagd testbed relies on it.

Last, a document free of errors is handed to openfeature-flagd-core, the engine in-process
clients run, exactly as the sync stream will send it: whatever the engine refuses is an error
too, so no stored set can break a client.

Field paths are paths in flagd's document ("flags.checkout.defaultVariant"), prefixed by the
caller for requests that carry a flag outside a document.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.contrib.tools.flagd.core.targeting.targeting import OPERATORS
from openfeature.exception import OpenFeatureError

from services.flags.document import (
    DISABLED,
    ENABLED,
    FLAG_FIELDS,
    IGNORED_FLAG_FIELDS,
    FlagSetDocument,
    Json,
    wire_flag,
)
from services.flags.values import INT64_MAX, INT64_MIN
from svckit.errors import FieldViolation, InvalidArgument

FLAG_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
FLAG_SET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
TOP_LEVEL_FIELDS = ("$schema", "flags", "$evaluators", "metadata")
MAX_DEPTH = 64
"""Deepest JsonLogic nesting accepted (the engine evaluates recursively)."""
MAX_VALUE_DEPTH = 32
"""Nested objects and arrays an object variant may hold, counting itself: it is answered as a
google.protobuf.Struct (three message levels per JSON level), and receivers stop parsing at 100
message levels, so ResolveAll and GetFlagSet answers with a 33-deep variant fail to parse (the
reasoning of gateway/openai/structs.py's MAX_DEPTH)."""
MAX_DOCUMENT_DEPTH = 256
"""Deepest nesting of a whole document, well above every field's own limit (so those name their
field, even some way past it); it keeps what walks a document recursively (the checks, copies,
`json.dumps`) within Python's stack, wherever the value sits."""
TOO_DEEP = f"is nested more than {MAX_DOCUMENT_DEPTH} levels deep"

SPECIAL_FORMS = frozenset(
    {"if", "?:", "and", "or", "filter", "reduce", "map", "all", "some", "none"}
)
"""JsonLogic operations the engine (panzi-json-logic) implements outside its operator table."""
KNOWN_OPERATORS = frozenset(OPERATORS) | SPECIAL_FORMS


@dataclass
class Findings:
    """What a check found: errors always refuse; targeting problems refuse when strict."""

    errors: list[FieldViolation] = field(default_factory=list)
    targeting: list[FieldViolation] = field(default_factory=list)

    def error(self, path: str, description: str) -> None:
        self.errors.append(FieldViolation(path, description))

    def problem(self, path: str, description: str) -> None:
        self.targeting.append(FieldViolation(path, description))

    def extend(self, other: Findings) -> None:
        self.errors += other.errors
        self.targeting += other.targeting

    def refusals(self, *, strict: bool) -> list[FieldViolation]:
        return self.errors + (self.targeting if strict else [])

    def raise_if_refused(self, *, strict: bool = True) -> None:
        refused = self.refusals(strict=strict)
        if refused:
            raise InvalidArgument(refused, reason="INVALID_FLAG_DEFINITION")


def check_flag_set_id(flag_set_id: str, path: str = "flag_set_id") -> None:
    if not FLAG_SET_ID.match(flag_set_id):
        raise InvalidArgument.field(
            path, "must be 1-200 of [A-Za-z0-9._/-], starting with a letter or digit"
        )


def parse_document(text: str) -> tuple[FlagSetDocument | None, Findings]:
    """A flagd JSON document (map or array form of `flags`), checked."""
    findings = Findings()
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        findings.error("flagd_json", f"is not valid JSON: {exc}")
        return None, findings
    except RecursionError:  # the decoder recurses: it gives up near a thousand levels
        findings.error("flagd_json", TOO_DEEP)
        return None, findings
    problem = _document_problem(data)
    if problem is not None:
        findings.error("flagd_json", problem)
        return None, findings
    return check_document(data, findings)


def check_document(
    data: Json, findings: Findings | None = None
) -> tuple[FlagSetDocument | None, Findings]:
    findings = findings if findings is not None else Findings()
    if not isinstance(data, dict):
        findings.error("flagd_json", "must be a JSON object")
        return None, findings
    for name in data:
        if name not in TOP_LEVEL_FIELDS:
            findings.error(name, "is not a field of a flagd document")
    flags = _flags_map(data.get("flags", {}), findings)
    evaluators = data.get("$evaluators") or {}
    if not isinstance(evaluators, dict):
        findings.error("$evaluators", "must be an object")
        evaluators = {}
    for name, rule in evaluators.items():
        _check_evaluator(name, rule, findings)
    check_metadata(data.get("metadata"), "metadata", findings)
    for key, definition in flags.items():
        findings.extend(
            check_flag(key, definition, evaluators, f"flags.{key}.", key_path=f"flags.{key}")
        )
    if findings.errors:
        return None, findings
    document = FlagSetDocument.from_json({**data, "flags": flags})
    check_engine_accepts(document, findings)
    return (None if findings.errors else document), findings


def check_flag(
    key: str,
    definition: Json,
    evaluators: Mapping[str, Json],
    prefix: str = "",
    key_path: str = "key",
) -> Findings:
    """One flag's definition; `evaluators` are those of its set (for `$ref`). Field paths are
    `prefix` + the flagd field name; a bad key is reported at `key_path`."""
    findings = Findings()
    if not FLAG_KEY.match(key):
        findings.error(
            key_path, "a flag key is 1-200 of [A-Za-z0-9._:-], starting with a letter or digit"
        )
    if not isinstance(definition, dict):
        findings.error(prefix.rstrip(".") or "flag", "must be an object")
        return findings
    for name in definition:
        if name not in FLAG_FIELDS and name not in IGNORED_FLAG_FIELDS:
            findings.error(f"{prefix}{name}", "is not a field of a flagd flag")
    if definition.get("state") not in (ENABLED, DISABLED):
        findings.error(f"{prefix}state", "must be ENABLED or DISABLED")
    variants = definition.get("variants")
    _check_variants(variants, f"{prefix}variants", findings)
    _check_default_variant(definition.get("defaultVariant"), variants, prefix, findings)
    check_metadata(definition.get("metadata"), f"{prefix}metadata", findings)
    targeting = definition.get("targeting")
    if targeting is not None:
        if not isinstance(targeting, dict):
            findings.error(f"{prefix}targeting", "must be a JsonLogic object")
        else:
            _check_targeting(targeting, evaluators, f"{prefix}targeting", findings)
    return findings


def check_metadata(metadata: Json, path: str, findings: Findings) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        findings.error(path, "must be an object")
        return
    for name, value in metadata.items():
        if not name:
            findings.error(path, "keys must not be empty")
        elif not _is_scalar(value):
            findings.error(f"{path}.{name}", "must be a string, number or boolean")


def check_engine_accepts(document: FlagSetDocument, findings: Findings) -> None:
    """The in-process engine loads the set as clients will receive it."""
    payload = {
        "flags": {
            key: wire_flag(definition, document.evaluators, document.metadata, "validation")
            for key, definition in document.flags.items()
        }
    }
    try:
        FlagdCore().set_flags(payload)
    except (OpenFeatureError, ValueError, TypeError) as exc:
        findings.error("flags", f"refused by the flagd engine: {exc}")


def _flags_map(flags: Json, findings: Findings) -> dict[str, Json]:
    """flagd's map form, or its array form (each flag with a `key`) turned into a map."""
    if isinstance(flags, dict):
        return dict(flags)
    if not isinstance(flags, list):
        findings.error("flags", "must be an object (or an array of flags with keys)")
        return {}
    result: dict[str, Json] = {}
    for index, item in enumerate(flags):
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str):
            findings.error(f"flags[{index}].key", "is required")
        elif key in result:
            findings.error(f"flags[{index}].key", f"duplicates the key {key!r}")
        else:
            result[key] = {name: value for name, value in item.items() if name != "key"}
    return result


def _check_variants(variants: Json, path: str, findings: Findings) -> None:
    if not isinstance(variants, dict) or not variants:
        findings.error(path, "must be an object with at least one variant")
        return
    kinds = set()
    for name, value in variants.items():
        if not name:
            findings.error(path, "variant names must not be empty")
        kind = _value_kind(value)
        if kind is None:
            findings.error(f"{path}.{name}", "must be a boolean, string, number or object")
            continue
        kinds.add(kind)
        if _outside_int64(value):
            findings.error(f"{path}.{name}", "is outside the 64-bit range ResolveInt answers in")
        elif _deeper_than(value, MAX_VALUE_DEPTH):
            findings.error(f"{path}.{name}", f"is nested more than {MAX_VALUE_DEPTH} levels deep")
    if len(kinds) > 1:
        findings.error(path, f"values must all be of one type, found {', '.join(sorted(kinds))}")


def _check_default_variant(default: Json, variants: Json, prefix: str, findings: Findings) -> None:
    if default is None or default == "":
        return
    path = f"{prefix}defaultVariant"
    if not isinstance(default, str):
        findings.error(path, "must be a variant name or null")
    elif isinstance(variants, dict) and default not in variants:
        names = ", ".join(sorted(variants))
        findings.error(path, f"{default!r} is not one of the variants ({names})")


def _check_evaluator(name: str, rule: Json, findings: Findings) -> None:
    path = f"$evaluators.{name}"
    if not name:
        findings.error("$evaluators", "evaluator names must not be empty")
    if not isinstance(rule, dict):
        findings.error(path, "must be a JsonLogic object")
        return
    # flagd does not inline references inside evaluators: one there would never resolve.
    _check_logic(rule, {}, path, findings, depth=0, nested_ref=True)


def _check_targeting(
    targeting: dict[str, Json], evaluators: Mapping[str, Json], path: str, findings: Findings
) -> None:
    if len(targeting) > 1:
        findings.problem(path, "must be one JsonLogic operation (an object with one key)")
    _check_logic(targeting, evaluators, path, findings, depth=0, nested_ref=False)


def _check_logic(
    node: Json,
    evaluators: Mapping[str, Json],
    path: str,
    findings: Findings,
    *,
    depth: int,
    nested_ref: bool,
) -> None:
    if depth > MAX_DEPTH:
        findings.error(path, f"is nested more than {MAX_DEPTH} levels deep")
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check_logic(
                item, evaluators, f"{path}[{index}]", findings, depth=depth + 1,
                nested_ref=nested_ref,
            )  # fmt: skip
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        ((operator, arguments),) = node.items()
        if operator == "$ref":
            _check_ref(arguments, evaluators, path, findings, nested_ref=nested_ref)
            return
        if operator not in KNOWN_OPERATORS:
            findings.problem(path, f"unknown operator {operator!r}")
        node = {operator: arguments}
    for name, value in node.items():
        _check_logic(
            value, evaluators, f"{path}.{name}", findings, depth=depth + 1, nested_ref=nested_ref
        )


def _check_ref(
    name: Json, evaluators: Mapping[str, Json], path: str, findings: Findings, *, nested_ref: bool
) -> None:
    if nested_ref:
        findings.problem(path, "an evaluator cannot refer to another evaluator")
    elif not isinstance(name, str) or name not in evaluators:
        findings.problem(path, f"$ref names no evaluator of this flag set: {name!r}")


def _value_kind(value: Json) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):  # math.isfinite would overflow on a huge one
        return "number"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else None
    if isinstance(value, dict):
        return "object"
    return None


def _is_scalar(value: Any) -> bool:
    return _value_kind(value) in {"boolean", "string", "number"}


def _is_integer(value: Json) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _outside_int64(value: Json) -> bool:
    # A whole float out there stays a float (values.normalized); an integer cannot be answered.
    return _is_integer(value) and not INT64_MIN <= value <= INT64_MAX


def _document_problem(data: Json) -> str | None:
    """What nothing below may meet: nesting past MAX_DOCUMENT_DEPTH, or an integer no float64
    holds (flagd reads every number as one; a Struct, answering it, raises OverflowError)."""
    for item, depth in _nodes(data):
        if isinstance(item, dict | list) and depth > MAX_DOCUMENT_DEPTH:
            return TOO_DEEP
        if _is_integer(item) and abs(item) > sys.float_info.max:
            return "holds an integer too large for a JSON number (a float64)"
    return None


def _deeper_than(value: Json, limit: int) -> bool:
    """More than `limit` levels of objects and arrays, counting `value` itself."""
    return any(isinstance(item, dict | list) and depth > limit for item, depth in _nodes(value))


def _nodes(value: Json) -> Iterator[tuple[Json, int]]:
    """Every value in `value`, with its depth (`value` is 1)."""
    # A loop, not recursion: the point is to judge nesting before anything recursive meets it.
    pending: list[tuple[Json, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        yield item, depth
        if isinstance(item, dict | list):
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


__all__ = [
    "FLAG_KEY",
    "FLAG_SET_ID",
    "KNOWN_OPERATORS",
    "MAX_DOCUMENT_DEPTH",
    "MAX_VALUE_DEPTH",
    "Findings",
    "check_document",
    "check_flag",
    "check_flag_set_id",
    "check_metadata",
    "parse_document",
]
