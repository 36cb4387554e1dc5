"""A `ShouldRateLimit` request in plain Python, and the bounds every request must keep.

Envoy validates its own descriptors, but anything can call a gRPC port, so the service checks
again before it looks anything up or counts a hit. The bounds keep one request from costing
more than a handful of Redis round trips' worth of work and memory:

- at most 64 descriptors per request and 32 entries per descriptor;
- a domain, entry key or entry value of at most 1 KiB (UTF-8);
- a per-descriptor `hits_addend` of at most 2**32 - 1 (a limit never exceeds that either).

The two texts the reference server has for bad input (`rate limit domain must not be empty`,
`rate limit descriptor list must not be empty`) are kept word for word as the status message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.ratelimit.envoy.rules import UINT32_MAX, Unit
from svckit.errors import FieldViolation, InvalidArgument

MAX_DESCRIPTORS = 64
MAX_ENTRIES = 32
MAX_TEXT_BYTES = 1024

EMPTY_DOMAIN = "rate limit domain must not be empty"
EMPTY_DESCRIPTORS = "rate limit descriptor list must not be empty"


@dataclass(frozen=True)
class Entry:
    """One `key: value` pair of a descriptor; an empty value is allowed."""

    key: str
    value: str


@dataclass(frozen=True)
class Override:
    """A limit sent in the request (`limit`), which bypasses the configured tree."""

    requests_per_unit: int
    unit: int


@dataclass(frozen=True)
class Descriptor:
    """An ordered list of entries, walked level by level through the config tree."""

    entries: tuple[Entry, ...]
    override: Override | None = None
    hits_addend: int | None = None
    """Set means "add exactly this", including 0 (a peek that consumes nothing)."""


@dataclass(frozen=True)
class RateLimitRequest:
    """What Envoy asks: may these descriptors of `domain` take these hits?"""

    domain: str
    descriptors: tuple[Descriptor, ...]
    hits_addend: int = 0
    """0 means 1, as Envoy leaves it unset for plain request counting."""

    def hits_for(self, descriptor: Descriptor) -> int:
        """A descriptor's own addend wins (even 0, a peek); otherwise the request's, at least 1."""
        if descriptor.hits_addend is not None:
            return descriptor.hits_addend
        return max(1, self.hits_addend)


def validate_request(request: RateLimitRequest) -> None:
    """Raise InvalidArgument listing every bad field, or return if the request is usable."""
    found: list[FieldViolation] = []
    if not request.domain:
        found.append(FieldViolation("domain", EMPTY_DOMAIN))
    _check_text(found, "domain", request.domain)
    if not request.descriptors:
        found.append(FieldViolation("descriptors", EMPTY_DESCRIPTORS))
    if len(request.descriptors) > MAX_DESCRIPTORS:
        found.append(FieldViolation("descriptors", f"must hold at most {MAX_DESCRIPTORS}"))
    for index, descriptor in enumerate(request.descriptors[:MAX_DESCRIPTORS]):
        _check_descriptor(found, f"descriptors[{index}]", descriptor)
    if found:
        raise InvalidArgument(found, message=_message(found))


def _check_descriptor(found: list[FieldViolation], path: str, descriptor: Descriptor) -> None:
    if not descriptor.entries:
        found.append(FieldViolation(f"{path}.entries", "must not be empty"))
    if len(descriptor.entries) > MAX_ENTRIES:
        found.append(FieldViolation(f"{path}.entries", f"must hold at most {MAX_ENTRIES}"))
    for index, entry in enumerate(descriptor.entries[:MAX_ENTRIES]):
        if not entry.key:
            found.append(FieldViolation(f"{path}.entries[{index}].key", "must not be empty"))
        _check_text(found, f"{path}.entries[{index}].key", entry.key)
        _check_text(found, f"{path}.entries[{index}].value", entry.value)
    if descriptor.override is not None:
        _check_override(found, f"{path}.limit", descriptor.override)
    if descriptor.hits_addend is not None and descriptor.hits_addend > UINT32_MAX:
        found.append(FieldViolation(f"{path}.hits_addend", f"must be at most {UINT32_MAX}"))


def _check_override(found: list[FieldViolation], path: str, override: Override) -> None:
    known = {unit.value for unit in Unit} - {Unit.UNKNOWN.value}
    if override.unit not in known:
        found.append(FieldViolation(f"{path}.unit", "must be a known rate limit unit"))


def _check_text(found: list[FieldViolation], path: str, text: str) -> None:
    # A character is at most 4 bytes in UTF-8: short texts (all of them, in practice) need
    # no encoding to be measured.
    if (
        len(text) * 4 > MAX_TEXT_BYTES
        and len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES
    ):
        found.append(FieldViolation(path, f"must be at most {MAX_TEXT_BYTES} bytes"))


def _message(found: Sequence[FieldViolation]) -> str:
    """Top-level texts stand alone (they are the reference's); nested ones name their field."""
    standalone = {EMPTY_DOMAIN, EMPTY_DESCRIPTORS}
    return "; ".join(
        v.description if v.description in standalone else f"{v.field}: {v.description}"
        for v in found
    )
