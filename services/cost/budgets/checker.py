"""CheckBudget: may this call happen under every budget that applies, and if so, reserve its
worst case.

The worst case is the call's price at (input_tokens, max_output_tokens), the dearest way its
tokens could be billed (reasoning at the reasoning price if that is dearer than output, input
at the cache-write price if that is dearer than plain input). A call without max_output_tokens
is assumed to produce `default_max_output_tokens` (16,384, as LiteLLM assumes).

No price known for the model: the cost of the call cannot be bounded, and reserving nothing
would let such calls overshoot a hard budget without limit (LiteLLM's #35524). So by default a
call to an unpriced model is refused by every hard budget that applies (`exceeded` lists them);
with `admit_unpriced=True` it is admitted with nothing reserved and counted in
`unpriced_admissions`. Soft budgets never refuse. Budgets in another currency than the call's
price neither refuse nor reserve (usage in that currency does not count towards them).

Exactness: spend is read from the database for every check (never cached), after reading the
reservation store's watermark, and the store decides atomically (see `reservations`): admitted
calls' worst cases plus the spend never exceed a hard budget's limit. A call's usage is dated
when the call ends, so a call checked within the reservation TTL of its period's end may be
charged to the next period: it is checked against and reserved in both, and checks made once
the next period has begun see it there. Budget definitions come
from the store's cache (a budget created on another replica applies within its refresh time).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.accounting import read_spent
from services.cost.budgets.metrics import BudgetMetrics
from services.cost.budgets.model import Budget
from services.cost.budgets.reservations import (
    DEFAULT_TTL_SECONDS,
    BudgetLoad,
    ReservationOutcome,
    ReservationRequest,
    ReservationStore,
    Verdict,
)
from services.cost.budgets.store import BudgetStore
from services.cost.ledger_hooks import Pricer
from services.cost.money import Money
from services.cost.price import PriceRow, cost_of
from services.cost.usage import UsageRecord, user_scope
from svckit.errors import Unavailable, Violations

DEFAULT_MAX_OUTPUT_TOKENS = 16_384
STALE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class BudgetCall:
    """What CheckBudget is asked about: a call about to be made."""

    request_id: str
    tenant: str = ""
    user: str = ""
    key: str = ""
    model: str = ""
    """The public model name."""
    provider: str = ""
    upstream_model: str = ""
    input_tokens: int = 0
    max_output_tokens: int = 0

    def scopes(self) -> frozenset[str]:
        """The scopes its usage will be charged to (`UsageRecord.scopes`, without a subject)."""
        named = (("tenants", self.tenant), ("keys", self.key))
        found = [f"{kind}/{name}" for kind, name in named if name]
        return frozenset([*found, user_scope(self.tenant, self.user)]) - {""}


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget in its current period (`BudgetStatus`)."""

    budget: Budget
    period_start: datetime
    period_end: datetime
    spent: Money
    reserved: Money
    """Worst case of calls admitted whose usage has not arrived yet."""


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    allowed: bool
    reserved: Money
    """The worst case reserved (zero when refused, unpriced or when no budget applies)."""
    exceeded: tuple[BudgetState, ...]
    """The hard budgets that refused the call."""
    reservation_ttl_seconds: float
    duplicate: bool = False
    """A retried check of a request id that holds a reservation: nothing more reserved."""


class BudgetChecker:
    def __init__(
        self,
        engine: AsyncEngine,
        budgets: BudgetStore,
        reservations: ReservationStore,
        pricer: Pricer,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        admit_unpriced: bool = False,
        default_max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        clock: Callable[[], float] = time.time,
        metrics: BudgetMetrics | None = None,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._budgets = budgets
        self._reservations = reservations
        self._pricer = pricer
        self._ttl = ttl_seconds
        self._admit_unpriced = admit_unpriced
        self._default_output = default_max_output_tokens
        self._clock = clock
        self.unpriced_admissions = 0

    async def check(self, call: BudgetCall) -> BudgetDecision:
        decision = await self._check(call)
        if self._metrics is not None:
            self._metrics.observe(decision.allowed)
        return decision

    async def _check(self, call: BudgetCall) -> BudgetDecision:
        _validate(call)
        at = datetime.fromtimestamp(self._clock(), UTC)
        found = await self._budgets.matching(call.scopes(), call.model)
        if not found:
            return BudgetDecision(True, Money.zero(), (), self._ttl)
        worst = await self.worst_case(call, at)
        if worst is None:
            return await self._unpriced(found)
        applicable = [budget for budget in found if budget.limit.currency == worst.currency]
        for _ in range(STALE_RETRIES):
            watermark = await self._reservations.watermark()
            loads = await self._loads(applicable, at, ahead_seconds=self._ttl)
            request = ReservationRequest(call.request_id, loads, worst.nanos, self._ttl, watermark)
            outcome = await self._reservations.check_and_reserve(request)
            if outcome.verdict is not Verdict.STALE:
                return self._decision(worst, loads, outcome, at)
        raise Unavailable("budget reservations are too busy to check; retry")

    async def release(self, request_id: str) -> bool:
        """ReleaseBudgetReservation: the call did not happen."""
        return await self._reservations.release(request_id)

    async def states(self, budgets: Sequence[Budget]) -> list[BudgetState]:
        """Budgets in their current period, with spend and reservations (GetBudget, ListBudgets)."""
        at = datetime.fromtimestamp(self._clock(), UTC)
        loads = await self._loads(budgets, at)
        reserved = [
            await self._reservations.reserved_total(load.budget.id, load.period_start)
            for load in loads
        ]
        return [_state(load, amount) for load, amount in zip(loads, reserved, strict=True)]

    async def worst_case(self, call: BudgetCall, at: datetime) -> Money | None:
        """The most the call can cost, or None when no price is known for it."""
        output = call.max_output_tokens or self._default_output
        record = UsageRecord(
            request_id=call.request_id,
            occurred_at=at,
            tenant=call.tenant,
            model=call.model,
            provider=call.provider,
            upstream_model=call.upstream_model,
            input_tokens=call.input_tokens,
            output_tokens=output,
            user=call.user,
            api_key_id=call.key,
        )
        price = await self._pricer.price_for(record)
        return None if price is None else _dearest(record, price)

    async def _unpriced(self, found: Sequence[Budget]) -> BudgetDecision:
        hard = [budget for budget in found if budget.hard]
        if hard and not self._admit_unpriced:
            return BudgetDecision(False, Money.zero(), tuple(await self.states(hard)), self._ttl)
        self.unpriced_admissions += 1
        return BudgetDecision(True, Money.zero(), (), self._ttl)

    async def _loads(
        self, budgets: Sequence[Budget], at: datetime, *, ahead_seconds: float = 0.0
    ) -> list[BudgetLoad]:
        """Each budget's period containing `at`, then the next one too when `at` is less than
        `ahead_seconds` before the period's end."""
        starts: list[tuple[Budget, datetime]] = []
        for budget in budgets:
            start, end = budget.bounds(at)
            starts.append((budget, start))
            if (end - at).total_seconds() < ahead_seconds:
                starts.append((budget, end))
        async with self._engine.connect() as conn:
            spent = await read_spent(conn, [(budget.id, start) for budget, start in starts])
        return [BudgetLoad(budget, start, spent[(budget.id, start)]) for budget, start in starts]

    def _decision(
        self, worst: Money, loads: Sequence[BudgetLoad], outcome: ReservationOutcome, at: datetime
    ) -> BudgetDecision:
        if outcome.allowed:
            reserved = Money(worst.currency, outcome.amount_nanos)
            duplicate = outcome.verdict is Verdict.DUPLICATE
            return BudgetDecision(True, reserved, (), self._ttl, duplicate)
        exceeded = tuple(_state(loads[i], outcome.reserved[i]) for i in outcome.refused)
        return BudgetDecision(False, Money.zero(worst.currency), exceeded, self._ttl)


def _dearest(record: UsageRecord, price: PriceRow) -> Money:
    tokens_in, tokens_out = record.input_tokens, record.output_tokens
    shapes = [
        replace(record, input_tokens=i, cache_write_tokens=w, reasoning_tokens=r)
        for i, w in ((tokens_in, 0), (0, tokens_in))
        for r in (0, tokens_out)
    ]
    return max((cost_of(shape, price) for shape in shapes), key=lambda money: money.nanos)


def _state(load: BudgetLoad, reserved: int) -> BudgetState:
    budget = load.budget
    end = budget.bounds(load.period_start)[1]
    currency = budget.limit.currency
    return BudgetState(
        budget, load.period_start, end, Money(currency, load.spent_nanos), Money(currency, reserved)
    )


def _validate(call: BudgetCall) -> None:
    violations = Violations()
    violations.check(bool(call.request_id), "request_id", "must not be empty")
    violations.check(len(call.request_id) <= 128, "request_id", "longer than 128 characters")
    violations.check(call.input_tokens >= 0, "input_tokens", "must not be negative")
    violations.check(call.max_output_tokens >= 0, "max_output_tokens", "must not be negative")
    violations.raise_if_any()
