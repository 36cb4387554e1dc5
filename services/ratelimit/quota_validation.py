"""Validation of the limiter's input: every bad field reported at once, before anything is
counted or written, with field paths as in the `switchboard.ratelimit.v1` requests
(`subjects[1].tier`, `estimated_tokens`), so a caller fixes a request in one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.ratelimit.subjects import QuotaSubject, subject_problem
from services.ratelimit.tiers import AMOUNT_MAX, MODEL_NAME_MAX, TierCatalog
from svckit.errors import Violations

MAX_SUBJECTS = 8
RESERVATION_ID_MAX = 128


def check_violations(
    subjects: Sequence[QuotaSubject], model: str, estimated_tokens: int, tiers: TierCatalog
) -> Violations:
    # Runs for every check: field paths and messages are only built for a bad field.
    violations = Violations()
    if not 0 < len(subjects) <= MAX_SUBJECTS:
        violations.add("subjects", f"must name 1 to {MAX_SUBJECTS} subjects")
    first_seen: dict[str, int] = {}
    for index, subject in enumerate(subjects):
        problem = subject_problem(subject.name)
        if problem:
            violations.add(f"subjects[{index}].name", problem)
        elif subject.name in first_seen:
            violations.add(
                f"subjects[{index}].name", f"repeats subjects[{first_seen[subject.name]}].name"
            )
        first_seen.setdefault(subject.name, index)
        if not subject.tier or tiers.get(subject.tier) is None:
            _check_tier(violations, f"subjects[{index}].tier", subject.tier, tiers)
    if len(model) > MODEL_NAME_MAX:
        _check_model(violations, model)
    if not 0 <= estimated_tokens <= AMOUNT_MAX:
        _check_tokens(violations, "estimated_tokens", estimated_tokens)
    return violations


def usage_violations(subject: str, tier: str, model: str, tiers: TierCatalog) -> Violations:
    violations = subject_violations(subject)
    _check_tier(violations, "tier", tier, tiers)
    _check_model(violations, model)
    return violations


def subject_violations(subject: str, field: str = "subject") -> Violations:
    violations = Violations()
    problem = subject_problem(subject)
    if problem:
        violations.add(field, problem)
    return violations


def reservation_violations(reservation_id: str, actual_tokens: int | None = None) -> Violations:
    violations = Violations()
    violations.check(
        0 < len(reservation_id) <= RESERVATION_ID_MAX,
        "reservation_id",
        f"must be 1 to {RESERVATION_ID_MAX} characters",
    )
    if actual_tokens is not None:
        _check_tokens(violations, "actual_tokens", actual_tokens)
    return violations


def _check_tier(violations: Violations, field: str, tier: str, tiers: TierCatalog) -> None:
    if not tier:
        violations.add(field, "is required")
    elif tiers.get(tier) is None:
        known = ", ".join(tiers.tiers)
        violations.add(field, f"is not a known tier (known: {known})")


def _check_model(violations: Violations, model: str) -> None:
    violations.check(
        len(model) <= MODEL_NAME_MAX, "model", f"must be at most {MODEL_NAME_MAX} characters"
    )


def _check_tokens(violations: Violations, field: str, tokens: int) -> None:
    violations.check(0 <= tokens <= AMOUNT_MAX, field, f"must be between 0 and {AMOUNT_MAX}")
