"""The limiter: tier-based quotas for LLM calls, as plain typed functions over an injected clock
and an injected `QuotaStore`. The gRPC servicer only converts to and from these.

Windows. Fixed and aligned to the Unix epoch in UTC (`windows.Window`): a minute window resets at
the top of the minute, a day window at 00:00 UTC. The clock decides the window, never the store.

Limits. A check names 1 to 8 subjects, each with a tier, plus the model and the estimated tokens.
Each subject has its tier's requests per day, requests per minute and tokens per minute, counted
across all its calls whatever the model; its override, when it has a live one, replaces these
field by field. The tier's per-model limits for the call's model apply in addition, counted per
subject and model. An absent limit does not exist; a limit of 0 admits nothing.

Admission. All or nothing, and atomic in the store: the call is admitted only when every limit
admits it (a request costs 1, a token limit costs the estimate, and a window with nothing left
admits nothing); then every counter is counted at once, and when refused nothing is. Replicas
sharing one Redis therefore never admit more than a limit. The answer reports every limit (limit,
remaining, reset time, exceeded, overridden); when refused, `retry_after` is the time until every
exceeded window has reset, and absent when no wait can help (a limit of 0, or an estimate above
a tokens-per-minute limit); when admitted, a reservation id (always, even for 0 tokens) and the
time it expires.

Reservations. A reservation remembers the counters it charged (each in its own window) and the
amounts. `commit(id, actual)` adds `actual - estimate` to its token counters, never below 0;
`release(id)` returns its request and tokens. Only windows that are still current are adjusted:
a window that has ended has nothing left to correct. Both are idempotent (the same commit or a
second release answers as the first did); a commit after a release, a release after a commit,
or a commit with another actual is FAILED_PRECONDITION. A reservation left unsettled for the
reservation TTL (600 s by default) expires and its estimate simply stays counted, so a caller
that crashes cannot make usage vanish; after that, and for the same TTL after it was settled,
it is NOT_FOUND.

Failure. When the store cannot be reached, a check answers by the failure mode (OPEN admits
unchecked, CLOSED refuses) with `backend_unavailable` set, no limits and no reservation; every
other operation raises `BackendUnavailable` (UNAVAILABLE). An admission whose answer timed out
may still have been counted by Redis; it then stays counted, erring towards less quota.

Bad input raises `InvalidArgument` with one violation per bad field, all at once, before the
store is touched.
"""

from __future__ import annotations

import enum
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.limit_plans import LimitPlan, LimitPlans
from services.ratelimit.limits import (
    Limit,
    LimitStatus,
    limit_statuses,
    retry_after,
)
from services.ratelimit.override_cache import OverrideCache
from services.ratelimit.overrides import Override, override_violations
from services.ratelimit.quota_metrics import QuotaMetrics
from services.ratelimit.quota_store import (
    Charge,
    QuotaStore,
    Reservation,
    ReservationState,
    SettledReservation,
    Settlement,
)
from services.ratelimit.quota_validation import (
    check_violations,
    reservation_violations,
    subject_violations,
    usage_violations,
)
from services.ratelimit.subjects import QuotaSubject
from services.ratelimit.tiers import Tier, TierCatalog
from services.ratelimit.windows import Clock
from svckit.errors import FailedPrecondition, NotFound

DEFAULT_RESERVATION_TTL = 600.0

log = logging.getLogger(__name__)


class FailureMode(enum.Enum):
    """What a check answers when the store cannot be reached (other calls fail UNAVAILABLE).

    OPEN admits the call unchecked, so an outage of Redis is not an outage of every LLM call
    (Envoy's default too); CLOSED refuses it, for when overspending is worse than refusing.
    """

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class CheckResult:
    """A quota decision; times are seconds since the epoch, `retry_after` whole seconds."""

    allowed: bool
    limits: tuple[LimitStatus, ...]
    retry_after: int | None = None
    reservation_id: str | None = None
    reservation_expire_time: float | None = None
    backend_unavailable: bool = False
    """The store could not be reached: the failure mode decided, no limits, no reservation."""


@dataclass(frozen=True)
class CommitResult:
    reserved_tokens: int
    actual_tokens: int


def new_reservation_id() -> str:
    """A random id: unguessable, so nobody settles a reservation they were not given."""
    return secrets.token_hex(16)


class Limiter:
    """Checks, reserves and reports quotas; every method is one domain operation."""

    def __init__(
        self,
        store: QuotaStore,
        tiers: TierCatalog,
        *,
        clock: Clock = time.time,
        reservation_ttl: float = DEFAULT_RESERVATION_TTL,
        new_id: Callable[[], str] = new_reservation_id,
        failure_mode: FailureMode = FailureMode.OPEN,
        metrics: QuotaMetrics | None = None,
        override_cache_seconds: float = 0.0,
    ) -> None:
        if reservation_ttl <= 0:
            raise ValueError("reservation_ttl must be positive")
        self._store = store
        self._tiers = tiers
        self._clock = clock
        self._ttl = reservation_ttl
        self._new_id = new_id
        self._failure_mode = failure_mode
        self._metrics = metrics
        self._overrides = OverrideCache(store, override_cache_seconds, clock)
        self._plans = LimitPlans(tiers)

    async def check(
        self, subjects: Sequence[QuotaSubject], model: str, estimated_tokens: int
    ) -> CheckResult:
        """Admits the call and reserves its tokens if every limit allows, else counts nothing."""
        check_violations(subjects, model, estimated_tokens, self._tiers).raise_if_any()
        try:
            result = await self._decide(subjects, model, estimated_tokens, self._clock())
        except BackendUnavailable:
            log.info("quota store unavailable: failing %s", self._failure_mode.value)
            allowed = self._failure_mode is FailureMode.OPEN
            if self._metrics is not None:
                self._metrics.backend_failed(self._failure_mode.value, allowed)
            return CheckResult(allowed, limits=(), backend_unavailable=True)
        if self._metrics is not None:
            self._metrics.checked(result.allowed)
        return result

    async def commit(self, reservation_id: str, actual_tokens: int) -> CommitResult:
        """Replaces the reservation's estimate with the tokens really used."""
        reservation_violations(reservation_id, actual_tokens).raise_if_any()
        settled = await self._settle(reservation_id, actual_tokens)
        if settled.state is ReservationState.COMMITTED and settled.actual_tokens == actual_tokens:
            return CommitResult(settled.reserved_tokens, actual_tokens)
        raise _already_settled(settled)

    async def release(self, reservation_id: str) -> int:
        """Returns the reservation's request and tokens; answers the tokens released."""
        reservation_violations(reservation_id).raise_if_any()
        settled = await self._settle(reservation_id, None)
        if settled.state is ReservationState.RELEASED:
            return settled.reserved_tokens
        raise _already_settled(settled)

    async def usage(self, subject: str, tier: str, model: str) -> tuple[LimitStatus, ...]:
        """Reports the subject's limits like a check of 0 tokens would, counting nothing."""
        usage_violations(subject, tier, model, self._tiers).raise_if_any()
        now = self._clock()
        limits = await self._limits([QuotaSubject(subject, tier)], model, now)
        counts = await self._store.counts([limit.counter(now) for limit in limits], now)
        return tuple(limit_statuses(limits, counts, 0, counted=False, now=now))

    async def reset(self, subject: str) -> int:
        """Forgets every counter of the subject; answers how many there were."""
        subject_violations(subject).raise_if_any()
        return await self._store.reset(subject, self._clock())

    async def set_override(self, override: Override) -> Override:
        now = self._clock()
        override_violations(override, now).raise_if_any()
        await self._store.put_override(override, now)
        self._overrides.forget(override.subject)
        return override

    async def get_override(self, subject: str) -> Override:
        subject_violations(subject).raise_if_any()
        [override] = await self._store.overrides([subject], self._clock())
        if override is None:
            raise _no_override()
        return override

    async def delete_override(self, subject: str) -> None:
        subject_violations(subject).raise_if_any()
        self._overrides.forget(subject)
        if not await self._store.delete_override(subject, self._clock()):
            raise _no_override()

    def list_tiers(self) -> Mapping[str, Tier]:
        """The tiers by name, in the order of the tiers file."""
        return self._tiers.tiers

    async def _decide(
        self, subjects: Sequence[QuotaSubject], model: str, tokens: int, now: float
    ) -> CheckResult:
        plans = await self._plans_of(subjects, model, now)
        if len(plans) == 1:  # the usual check: no concatenation
            limits, counters = plans[0].limits, plans[0].counters(now)
        else:
            limits = tuple(limit for plan in plans for limit in plan.limits)
            counters = tuple(counter for plan in plans for counter in plan.counters(now))
        reservation = Reservation(
            id=self._new_id(),
            tokens=tokens,
            charges=tuple(
                Charge(counter, limit.cost(tokens), limit.value)
                for limit, counter in zip(limits, counters, strict=True)
            ),
            expire_time=now + self._ttl,
        )
        admission = await self._store.admit(reservation, now)
        self._overrides.observe(admission.overrides_version)
        statuses = tuple(
            limit_statuses(limits, admission.counts, tokens, counted=admission.admitted, now=now)
        )
        if not admission.admitted:
            return CheckResult(False, statuses, retry_after=retry_after(statuses, tokens, now))
        return CheckResult(
            True,
            statuses,
            reservation_id=reservation.id,
            reservation_expire_time=reservation.expire_time,
        )

    async def _plans_of(
        self, subjects: Sequence[QuotaSubject], model: str, now: float
    ) -> list[LimitPlan]:
        names = [subject.name for subject in subjects]
        overrides = self._overrides.cached(names, now)
        if overrides is None:
            overrides = await self._overrides.overrides(names, now)
        return [
            self._plans.plan(subject, model, override)
            for subject, override in zip(subjects, overrides, strict=True)
        ]

    async def _limits(
        self, subjects: Sequence[QuotaSubject], model: str, now: float
    ) -> list[Limit]:
        plans = await self._plans_of(subjects, model, now)
        return [limit for plan in plans for limit in plan.limits]

    async def _settle(self, reservation_id: str, actual_tokens: int | None) -> SettledReservation:
        now = self._clock()
        settlement = Settlement(reservation_id, actual_tokens, now, remember_until=now + self._ttl)
        settled = await self._store.settle(settlement)
        if settled is None:
            raise NotFound(
                "no such reservation: it never existed, or it expired",
                reason="RESERVATION_NOT_FOUND",
            )
        return settled


def _already_settled(settled: SettledReservation) -> FailedPrecondition:
    if settled.state is ReservationState.RELEASED:
        message = "the reservation was released"
    else:
        message = f"the reservation was committed with {settled.actual_tokens} tokens"
    return FailedPrecondition(
        message,
        reason="RESERVATION_ALREADY_SETTLED",
        metadata={"state": settled.state.value},
    )


def _no_override() -> NotFound:
    return NotFound("the subject has no override", reason="OVERRIDE_NOT_FOUND")
