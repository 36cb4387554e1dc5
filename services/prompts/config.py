"""A version's config: model parameters as a JSON object.

The config is free-form, so a team can keep what its callers need beside the prompt, but the
keys the gateway applies to a chat completion are checked when a version is created, so a
typo'd temperature fails at save time, not on the first request:

    model (string), temperature (0-2), top_p (0-1), max_tokens (positive integer), seed
    (integer), stop (string or list of up to 4 strings), presence_penalty and
    frequency_penalty (-2 to 2)

The ranges are OpenAI's. Everything else is stored as given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.prompts.json_values import canonical, normalize
from services.prompts.model import JsonObject
from svckit.errors import Violations


def _number(low: float, high: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok and low <= value <= high else f"must be a number from {low:g} to {high:g}"

    return check


def _integer(minimum: int | None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be an integer"
        if minimum is not None and value < minimum:
            return f"must be at least {minimum}"
        return None

    return check


def _model(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty string"


def _stop(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    if isinstance(value, list) and len(value) <= 4 and all(isinstance(s, str) for s in value):
        return None
    return "must be a string or a list of up to 4 strings"


KNOWN: dict[str, Callable[[Any], str | None]] = {
    "model": _model,
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "max_tokens": _integer(1),
    "seed": _integer(None),
    "stop": _stop,
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
}


def prepare_config(
    v: Violations, config: JsonObject, max_bytes: int, field: str = "config"
) -> dict[str, Any]:
    """The config normalized (see `json_values`), its known keys checked and its size bounded."""
    normalized: dict[str, Any] = normalize(dict(config))
    for key, check in KNOWN.items():
        if key in normalized:
            problem = check(normalized[key])
            if problem:
                v.add(f"{field}.{key}", problem)
    size = len(canonical(normalized).encode())
    if size > max_bytes:
        v.add(field, f"at most {max_bytes} bytes as JSON (this one has {size})")
    return normalized


__all__ = ["KNOWN", "prepare_config"]
