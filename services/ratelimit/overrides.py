"""Overrides: limits set for one subject that replace its tier's own limits, field by field.

An override never touches a tier's per-model limits (those stay in addition), and a field it
leaves unset keeps the tier's value. An override with an expire time lapses at that instant: from
then on it is treated as absent everywhere, as if deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.ratelimit.subjects import subject_problem
from services.ratelimit.tiers import AMOUNT_MAX
from svckit.errors import Violations

REASON_MAX = 1_000

LIMIT_FIELDS = ("requests_per_day", "requests_per_minute", "tokens_per_minute")


@dataclass(frozen=True)
class Override:
    """A subject's own limits. Times are seconds since the epoch; None means never."""

    subject: str
    requests_per_day: int | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    reason: str = ""
    expire_time: float | None = None

    def value(self, field: str) -> int | None:
        """The override's value for one of `LIMIT_FIELDS`, None when it keeps the tier's."""
        value: int | None = getattr(self, field)
        return value

    def live(self, now: float) -> bool:
        return self.expire_time is None or self.expire_time > now


def override_violations(override: Override, now: float) -> Violations:
    """Every problem of an override to set, with field paths as in `SetOverrideRequest`."""
    violations = Violations()
    problem = subject_problem(override.subject)
    if problem:
        violations.add("override.subject", problem)
    values = [override.value(field) for field in LIMIT_FIELDS]
    for field, value in zip(LIMIT_FIELDS, values, strict=True):
        violations.check(
            value is None or 0 <= value <= AMOUNT_MAX,
            f"override.{field}",
            f"must be between 0 and {AMOUNT_MAX}",
        )
    violations.check(
        any(value is not None for value in values),
        "override",
        "must set at least one of " + ", ".join(LIMIT_FIELDS),
    )
    violations.check(
        len(override.reason) <= REASON_MAX,
        "override.reason",
        f"must be at most {REASON_MAX} characters",
    )
    violations.check(
        override.expire_time is None or override.expire_time > now,
        "override.expire_time",
        "must be in the future",
    )
    return violations
