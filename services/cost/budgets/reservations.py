"""Reservations: the worst-case cost of calls admitted whose usage has not arrived yet.

CheckBudget admits a call when, for every hard budget that applies,

    spent + reserved + worst_case <= limit

where `spent` is the budget's spend in the period (`cost_budget_spend`, the durable truth,
read by the checker for each check) and `reserved` the live reservations here. Admitting
reserves `worst_case` on every budget that applies (soft ones too, so their status shows it),
atomically: concurrent checks, from any number of replicas sharing the store, are serialised
by it, so reservations alone never let hard budgets overshoot.

What remains is the gap between reading `spent` and reserving. A call's usage commits to
`spent` and then (after the commit) settles its reservation here; a check that read `spent`
before that commit but reserves after the settlement would see the call in neither. So a
settlement does not vanish at once: it is kept, with its real charge, as *settled* under a
sequence number (`seq`), and the checker reads the store's `watermark()` (the latest `seq`)
BEFORE it reads `spent`. A check then also counts every settlement newer than its watermark:
those may be missing from the `spent` it read. Settlements at or below the watermark
happened before the check's read began, so the committed spend it read includes them. The
result is that spent + reserved never undercounts (it may count a call twice for an instant,
which can only refuse, never overshoot). Settlements are kept `settled_grace` seconds (30);
a check whose watermark is older than what was pruned answers STALE and the checker reads
again.

Tolerance: a hard budget ends a period above its limit only by usage that exceeded what was
reserved for it: a call that produced more than its worst case (its max_output_tokens was not
enforced, or its price changed between check and usage), a call whose usage arrived after its
reservation expired (ttl) and a call that never asked CheckBudget. With worst cases that hold,
the overshoot is zero.

A reservation is keyed by request id: a retried check with the same id while its reservation
lives answers DUPLICATE with the amount first reserved and reserves nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from services.cost.budgets.model import Budget

DEFAULT_TTL_SECONDS = 600.0
DEFAULT_SETTLED_GRACE_SECONDS = 30.0


class Verdict(Enum):
    ADMITTED = "admitted"
    REFUSED = "refused"
    DUPLICATE = "duplicate"
    """The request id holds a live reservation already: admitted earlier, nothing added."""
    STALE = "stale"
    """The watermark is older than the settlements kept: read the watermark and spend again."""


@dataclass(frozen=True, slots=True)
class BudgetLoad:
    """A budget with its spend in the period the call falls in, as the checker read it."""

    budget: Budget
    period_start: datetime
    spent_nanos: int

    @property
    def key(self) -> str:
        return bucket_key(self.budget.id, self.period_start)


@dataclass(frozen=True, slots=True)
class Charge:
    """What a recorded call added to one budget's period (its real cost)."""

    budget_id: str
    period_start: datetime
    nanos: int

    @property
    def key(self) -> str:
        return bucket_key(self.budget_id, self.period_start)


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    request_id: str
    loads: Sequence[BudgetLoad]
    amount_nanos: int
    ttl_seconds: float
    watermark: int
    """`ReservationStore.watermark()`, read before the loads' spend was read."""


@dataclass(frozen=True, slots=True)
class ReservationOutcome:
    verdict: Verdict
    amount_nanos: int = 0
    """What the request id holds reserved (0 when refused or stale)."""
    reserved: Sequence[int] = ()
    """Per load, in order: what others hold reserved (live and recently settled) at the check."""
    refused: Sequence[int] = ()
    """Indexes of the loads (hard budgets) that refused the call."""

    @property
    def allowed(self) -> bool:
        return self.verdict in (Verdict.ADMITTED, Verdict.DUPLICATE)


class ReservationStore(Protocol):
    async def watermark(self) -> int:
        """The latest settlement's sequence number: read it before reading spend."""
        ...

    async def check_and_reserve(self, request: ReservationRequest) -> ReservationOutcome: ...

    async def settle(self, request_id: str, charges: Sequence[Charge]) -> bool:
        """The call's usage is committed to spend with `charges`: its reservation (if any)
        ends, and the charges count for checks whose watermark predates this. True when a
        live reservation ended."""
        ...

    async def release(self, request_id: str) -> bool:
        """The call did not happen: its reservation ends. True when a live one ended."""
        ...

    async def reserved_total(self, budget_id: str, period_start: datetime) -> int:
        """Live reservations on a budget's period, for its status."""
        ...

    async def aclose(self) -> None: ...


def bucket_key(budget_id: str, period_start: datetime) -> str:
    """A budget's period, as the stores key it: "{budget id}@{period start, unix seconds}"."""
    return f"{budget_id}@{int(period_start.timestamp())}"


def admits(load: BudgetLoad, reserved: int, amount: int) -> bool:
    return not load.budget.hard or load.spent_nanos + reserved + amount <= load.budget.limit.nanos
