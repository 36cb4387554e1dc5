"""Evaluates flags with openfeature-flagd-core, the engine in-process clients run.

The service writes no evaluator: each selector's view of the current snapshot holds a
`FlagdCore` loaded with exactly the payload sync clients receive, so a remote evaluation and an
in-process one of the same flag and context give the same answer (fractional bucketing is the
engine's: flagd's v3, CBOR-encoded).

The context is the caller's, overlaid by the service's static context (`FLAGS_STATIC_CONTEXT`,
flagd's `-X`): the service's values win, as in flagd. `targetingKey` becomes the engine's
targeting key when it is a string (the flagd provider puts the OpenFeature targeting key
there); any other value is dropped, so key-based bucketing answers DEFAULT, as it does in
process.

Outcomes follow flagd's evaluation service:

- DISABLED: a success without value or variant (callers substitute their code default);
- no targeting match and no default variant: reason DEFAULT without value or variant;
- flag not found -> NOT_FOUND, wrong type -> INVALID_ARGUMENT, bad targeting -> DATA_LOSS
  (PARSE_ERROR), a variant the flag lacks -> UNKNOWN (GENERAL), with flagd's messages. These
  are `ServiceError`s, so the interceptor maps them like every other error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import grpc
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import (
    FlagNotFoundError,
    OpenFeatureError,
    ParseError,
    TypeMismatchError,
)

from services.flags.selector import ALL, Selector
from services.flags.snapshot import Snapshot, View
from svckit.errors import ServiceError


class ValueKind(Enum):
    BOOLEAN = "boolean"
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    OBJECT = "object"


class FlagNotFound(ServiceError):
    code = grpc.StatusCode.NOT_FOUND
    default_reason = "FLAG_NOT_FOUND"


class TypeMismatch(ServiceError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    default_reason = "TYPE_MISMATCH"


class FlagParseError(ServiceError):
    code = grpc.StatusCode.DATA_LOSS
    default_reason = "PARSE_ERROR"


class GeneralFlagError(ServiceError):
    code = grpc.StatusCode.UNKNOWN
    default_reason = "GENERAL"


@dataclass(frozen=True)
class Resolution:
    """One evaluation. `variant` None: no value (DISABLED, or DEFAULT without a default)."""

    flag_key: str
    value: Any
    variant: str | None
    reason: str
    metadata: Mapping[str, Any]


class _NoValue:
    """The default handed to the engine: it comes back exactly when no variant was chosen."""


_NO_VALUE = _NoValue()

Observer = Callable[[Resolution | None, str | None], None]
"""Told of each evaluation: (resolution, None) or (None, error reason)."""


class Evaluator:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        static_context: Mapping[str, Any],
        observe: Observer | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._static = dict(static_context)
        self._observe = observe

    def view(self, selector: Selector = ALL) -> View:
        return self._snapshot().view(selector)

    def resolve(
        self,
        flag_key: str,
        kind: ValueKind,
        context: Mapping[str, Any] | None = None,
        selector: Selector = ALL,
        view: View | None = None,
    ) -> Resolution:
        view = view or self.view(selector)
        try:
            resolution = _resolve(view, flag_key, kind, self.context(context))
        except ServiceError as exc:
            if self._observe is not None:
                self._observe(None, exc.reason)
            raise
        if self._observe is not None:
            self._observe(resolution, None)
        return resolution

    def context(self, context: Mapping[str, Any] | None) -> EvaluationContext:
        attributes = {**(context or {}), **self._static}
        key = attributes.pop("targetingKey", None)
        return EvaluationContext(
            targeting_key=key if isinstance(key, str) else None, attributes=attributes
        )


def kind_of(variants: Mapping[str, Any]) -> ValueKind | None:
    """The type a flag answers in, from its variants (all of one type: see validation)."""
    value = next(iter(variants.values()), None)
    if isinstance(value, bool):
        return ValueKind.BOOLEAN
    if isinstance(value, str):
        return ValueKind.STRING
    if isinstance(value, int | float):
        return ValueKind.FLOAT
    if isinstance(value, dict):
        return ValueKind.OBJECT
    return None


def _resolve(view: View, key: str, kind: ValueKind, context: EvaluationContext) -> Resolution:
    method = getattr(view.engine, f"resolve_{kind.value}_value")
    try:
        details = method(key, _NO_VALUE, context)
    except FlagNotFoundError as exc:
        raise FlagNotFound("Flag not found") from exc
    except TypeMismatchError as exc:
        raise TypeMismatch("Type mismatch error") from exc
    except ParseError as exc:
        raise FlagParseError("Error parsing input or configuration") from exc
    except OpenFeatureError as exc:  # GeneralError and kin
        raise GeneralFlagError("General error") from exc
    except Exception as exc:  # what the engine does not catch, as in process: GENERAL
        raise GeneralFlagError("General error") from exc
    chosen = details.variant is not None and details.value is not _NO_VALUE
    value = details.value if chosen else None
    if chosen and kind is ValueKind.OBJECT and not isinstance(value, dict):
        # A google.protobuf.Struct carries objects only; an array cannot be answered.
        raise TypeMismatch("Type mismatch error")
    return Resolution(
        flag_key=key,
        value=value,
        variant=details.variant if chosen else None,
        reason=str(details.reason),
        metadata=dict(details.flag_metadata or {}),
    )


__all__ = [
    "Evaluator",
    "FlagNotFound",
    "FlagParseError",
    "GeneralFlagError",
    "Resolution",
    "TypeMismatch",
    "ValueKind",
    "kind_of",
]
