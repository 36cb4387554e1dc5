"""Limit plans: the limits of a subject's call, worked out once and reused.

Which limits apply to a subject's call depends only on its tier, the model and its live
override (`limits.applicable_limits`), and the counters they count on only on the current
windows. Every check needs both, so `LimitPlans` keeps them per (subject, tier, model): a plan
is rebuilt when the subject's override is not the one it was made with (set, changed, deleted
or expired, as the override cache reports it), and its counters when the minute changes
(every window, minute or day, starts on a minute). Plans are bounded like the override cache.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.ratelimit.limits import CounterKey, Limit, applicable_limits
from services.ratelimit.overrides import Override
from services.ratelimit.subjects import QuotaSubject
from services.ratelimit.tiers import TierCatalog
from services.ratelimit.windows import MINUTE

MAX_PLANS = 100_000


class LimitPlan:
    """The limits of one subject for calls to one model under one override."""

    __slots__ = ("_counters", "_minute", "limits", "override")

    def __init__(self, limits: Sequence[Limit], override: Override | None) -> None:
        self.limits = tuple(limits)
        self.override = override
        self._minute: int | None = None
        self._counters: tuple[CounterKey, ...] = ()

    def counters(self, now: float) -> tuple[CounterKey, ...]:
        """The counter of each limit in the windows that contain `now`."""
        minute = int(now) // MINUTE
        if minute != self._minute:
            self._counters = tuple(limit.counter(now) for limit in self.limits)
            self._minute = minute
        return self._counters


class LimitPlans:
    """The plans of the subjects seen recently, for the tiers of `tiers`."""

    def __init__(self, tiers: TierCatalog, max_plans: int = MAX_PLANS) -> None:
        self._tiers = tiers
        self._max = max_plans
        self._plans: dict[tuple[str, str, str], LimitPlan] = {}

    def plan(self, subject: QuotaSubject, model: str, override: Override | None) -> LimitPlan:
        key = (subject.name, subject.tier, model)
        plan = self._plans.get(key)
        if plan is None or (plan.override is not override and plan.override != override):
            if len(self._plans) >= self._max:
                self._plans.clear()
            tier = self._tiers.tiers[subject.tier]
            limits = applicable_limits(subject.name, tier, override, model)
            plan = self._plans[key] = LimitPlan(limits, override)
        return plan
