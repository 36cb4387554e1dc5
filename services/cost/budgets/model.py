"""A budget (a spending limit of one scope per calendar period) and an alert (one threshold of
one budget crossed in one period).

`new_budget` is the validated way in from a request: it reports every bad field at once, named
as in the proto (`budget.scope`, `budget.limit.nanos`, ...). A budget counts the usage recorded
after it was created (no back-filling from the ledger), in its own currency only: usage priced in
another currency is not converted (no exchange rates) and does not count.

Scopes are `tenants/{id}`, `keys/{id}` and users. A user is named with its tenant,
`users/{tenant}:{user}` (user names are unique only inside a tenant; see `services.cost.usage`,
which charges calls to that form); `users/{user}` is the scope of calls made without a tenant.
A user scope holding ':' must have both a tenant and a user around its first ':'.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.cost.budgets.periods import Period, period_bounds
from services.cost.money import CURRENCIES, Money
from services.cost.tables import NAME
from services.cost.usage import TENANT_SEPARATOR
from svckit.errors import Violations

SCOPE_KINDS = ("tenants", "users", "keys")
MAX_THRESHOLD = 1000
MAX_THRESHOLDS = 20
MAX_TIME_ZONE = 64


@dataclass(frozen=True, slots=True)
class Budget:
    id: str
    scope: str
    """"tenants/{id}", "users/{tenant}:{user}" ("users/{user}" without a tenant) or "keys/{id}"."""
    limit: Money
    period: Period
    hard: bool
    """Hard budgets refuse calls that could overshoot them; soft ones only alert."""
    model: str = ""
    """Only calls to this public model count; every model when empty."""
    time_zone: str = "UTC"
    thresholds: tuple[int, ...] = ()
    """Percentages of the limit that raise an alert, ascending."""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    owner: str = ""
    """The tenant that created it through the gateway (and may delete it); "" for the platform."""

    def applies_to(self, scopes: Iterable[str], model: str) -> bool:
        return self.scope in scopes and (not self.model or self.model == model)

    def bounds(self, at: datetime) -> tuple[datetime, datetime]:
        """The period containing `at`: (start, end) in UTC."""
        return period_bounds(self.period, self.time_zone, at)

    def crossed(self, before_nanos: int, after_nanos: int) -> list[int]:
        """Thresholds crossed by spend going from `before` to `after`: before < t% <= after."""
        limit = self.limit.nanos
        return [t for t in self.thresholds if before_nanos * 100 < t * limit <= after_nanos * 100]


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    budget_id: str
    scope: str
    threshold: int
    period_start: datetime
    spent: Money
    """The budget's spend in the period just after the crossing."""
    limit: Money
    raised_at: datetime


def new_id() -> str:
    """32 hex characters: the width of the `id` columns."""
    return uuid.uuid4().hex


def new_budget(
    *,
    scope: str,
    limit: Money,
    period: str,
    hard: bool,
    model: str = "",
    time_zone: str = "",
    thresholds: Iterable[int] = (),
    created_at: datetime | None = None,
    owner: str = "",
) -> Budget:
    """A new budget with a fresh id, or InvalidArgument naming every bad field. `period` is the
    name of a `Period` ("daily", "weekly", "monthly"); an empty time zone means UTC."""
    violations = Violations()
    levels = list(thresholds)
    zone = time_zone or "UTC"
    _check_scope(violations, scope)
    _check_limit(violations, limit)
    _check_thresholds(violations, levels)
    violations.check(period in set(Period), "budget.period", "must be daily, weekly or monthly")
    violations.check(len(model) <= NAME, "budget.model", f"longer than {NAME} characters")
    violations.check(_is_time_zone(zone), "budget.time_zone", "not an IANA time zone name")
    violations.raise_if_any()
    return Budget(
        id=new_id(),
        scope=scope,
        limit=limit,
        period=Period(period),
        hard=hard,
        model=model,
        time_zone=zone,
        thresholds=tuple(sorted(levels)),
        created_at=created_at or datetime.now(UTC),
        owner=owner,
    )


def scope_is_valid(scope: str) -> bool:
    kind, slash, name = scope.partition("/")
    valid = bool(slash) and kind in SCOPE_KINDS and bool(name) and len(scope) <= NAME
    return valid and (kind != "users" or _user_is_valid(name))


def _user_is_valid(name: str) -> bool:
    tenant, separator, user = name.partition(TENANT_SEPARATOR)
    return not separator or bool(tenant and user)


def _check_scope(violations: Violations, scope: str) -> None:
    violations.check(
        scope_is_valid(scope),
        "budget.scope",
        'must be "tenants/{id}", "users/{tenant}:{user}" ("users/{user}" for calls without a'
        ' tenant) or "keys/{id}"',
    )


def _check_limit(violations: Violations, limit: Money) -> None:
    violations.check(
        limit.currency in CURRENCIES, "budget.limit.currency_code", "unknown currency code"
    )
    violations.check(limit.nanos > 0, "budget.limit.nanos", "must be positive")


def _check_thresholds(violations: Violations, levels: list[int]) -> None:
    violations.check(
        all(1 <= level <= MAX_THRESHOLD for level in levels),
        "budget.thresholds",
        f"each must be a percentage from 1 to {MAX_THRESHOLD}",
    )
    violations.check(len(set(levels)) == len(levels), "budget.thresholds", "must be unique")
    violations.check(
        len(levels) <= MAX_THRESHOLDS, "budget.thresholds", f"at most {MAX_THRESHOLDS}"
    )


def _is_time_zone(name: str) -> bool:
    if len(name) > MAX_TIME_ZONE:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory ("America")
        return False
    return True
