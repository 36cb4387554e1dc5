from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.accounting import BudgetAccounting
from services.cost.budgets.checker import BudgetCall, BudgetChecker
from services.cost.budgets.memory_reservations import MemoryReservations
from services.cost.budgets.metrics import BudgetMetrics
from services.cost.budgets.periods import Period
from services.cost.budgets.reservations import (
    ReservationOutcome,
    ReservationRequest,
    ReservationStore,
    Verdict,
)
from services.cost.budgets.store import BudgetStore
from services.cost.money import Money
from svckit.errors import InvalidArgument, Unavailable

from .conftest import NOW, ONE_CALL, FakeClock, TablePricer, budget, price, record, usage

MARCH = NOW.replace(day=1, hour=0)
CALL = BudgetCall(
    "r1",
    tenant="acme",
    user="u1",
    key="k1",
    model="gpt-4o",
    input_tokens=500,
    max_output_tokens=500,
)
"""Worth exactly ONE_CALL at `PRICE` (1 USD per million tokens in and out)."""
PRICE = price(1_000_000_000, 1_000_000_000)


@pytest.fixture
def store(engine: AsyncEngine, clock: FakeClock) -> BudgetStore:
    return BudgetStore(engine, clock=clock)


@pytest.fixture
def pricer() -> TablePricer:
    return TablePricer({"gpt-4o": PRICE})


@pytest.fixture
def checker(
    engine: AsyncEngine,
    store: BudgetStore,
    reservations: ReservationStore,
    pricer: TablePricer,
    clock: FakeClock,
) -> BudgetChecker:
    return BudgetChecker(engine, store, reservations, pricer, clock=clock, ttl_seconds=300)


@pytest.fixture
def accounting(reservations: ReservationStore, clock: FakeClock) -> BudgetAccounting:
    return BudgetAccounting(reservations, clock=clock)


async def test_a_call_no_budget_applies_to_is_admitted_with_nothing_reserved(
    checker: BudgetChecker, store: BudgetStore
) -> None:
    await store.create(budget(scope="tenants/other"))
    decision = await checker.check(CALL)
    assert (decision.allowed, decision.reserved, decision.exceeded) == (True, Money.zero(), ())
    assert decision.reservation_ttl_seconds == 300


async def test_an_admitted_call_reserves_its_worst_case_on_each_budget(
    checker: BudgetChecker, store: BudgetStore
) -> None:
    tenant = await store.create(budget(id="tenant"))
    key = await store.create(budget(id="key", scope="keys/k1", hard=False))
    decision = await checker.check(CALL)
    assert (decision.allowed, decision.reserved) == (True, Money("USD", ONE_CALL))
    states = await checker.states([tenant, key])
    assert [(s.spent.nanos, s.reserved.nanos) for s in states] == [(0, ONE_CALL)] * 2
    assert (states[0].period_start, states[0].period_end) == (MARCH, MARCH.replace(month=4))


async def test_the_worst_case_bills_every_token_at_its_dearest_possible_price(
    checker: BudgetChecker, pricer: TablePricer
) -> None:
    at = NOW
    pricer.prices["gpt-4o"] = replace(PRICE, reasoning_per_million=3_000_000_000)
    assert await checker.worst_case(CALL, at) == Money("USD", 2 * ONE_CALL)
    pricer.prices["gpt-4o"] = replace(PRICE, cache_write_per_million=2_000_000_000)
    assert await checker.worst_case(CALL, at) == Money("USD", 3 * ONE_CALL // 2)


async def test_a_call_without_max_output_tokens_is_assumed_to_produce_the_default(
    checker: BudgetChecker,
) -> None:
    worst = await checker.worst_case(replace(CALL, max_output_tokens=0), NOW)
    assert worst == Money("USD", ONE_CALL // 2 + 16_384 * 1000)


async def test_a_call_that_would_overshoot_a_hard_budget_is_refused_with_its_status(
    checker: BudgetChecker, store: BudgetStore, engine: AsyncEngine, accounting: BudgetAccounting
) -> None:
    await store.create(budget(limit=3 * ONE_CALL))
    await record(engine, accounting, [usage("earlier", ONE_CALL)])
    assert (await checker.check(replace(CALL, request_id="r0"))).allowed
    decision = await checker.check(replace(CALL, input_tokens=1500, max_output_tokens=0))
    assert not decision.allowed
    assert decision.reserved == Money.zero("USD")
    [state] = decision.exceeded
    assert (state.budget.id, state.spent.nanos, state.reserved.nanos) == ("b1", ONE_CALL, ONE_CALL)


async def test_a_call_checked_just_before_midnight_holds_room_in_the_next_day_too(
    checker: BudgetChecker,
    store: BudgetStore,
    engine: AsyncEngine,
    accounting: BudgetAccounting,
    clock: FakeClock,
) -> None:
    """Usage is dated when the call ends: a call checked at 23:59:50 may be charged to the
    next day, where a check at 00:00:05 must see it (the TTL here is 300 s)."""
    await store.create(budget(limit=ONE_CALL + ONE_CALL // 2, period=Period.DAILY))
    clock.now = datetime(2025, 3, 12, 23, 59, 50, tzinfo=UTC).timestamp()
    assert (await checker.check(replace(CALL, request_id="before"))).allowed

    clock.now = datetime(2025, 3, 13, 0, 0, 5, tzinfo=UTC).timestamp()
    after = await checker.check(replace(CALL, request_id="after"))
    ended = datetime(2025, 3, 13, 0, 0, 20, tzinfo=UTC)
    await record(engine, accounting, [usage("before", ONE_CALL, at=ended)])

    assert not after.allowed  # with both calls, the day would be spent 2 of 1.5 calls
    [state] = after.exceeded
    assert state.period_start == datetime(2025, 3, 13, tzinfo=UTC)


async def test_a_call_checked_mid_period_reserves_in_that_period_only(
    checker: BudgetChecker, store: BudgetStore, clock: FakeClock
) -> None:
    b = await store.create(budget(limit=ONE_CALL, period=Period.DAILY))
    assert (await checker.check(CALL)).allowed

    clock.now = datetime(2025, 3, 13, 0, 0, 5, tzinfo=UTC).timestamp()
    assert (await checker.states([b]))[0].reserved.nanos == 0
    assert (await checker.check(replace(CALL, request_id="tomorrow"))).allowed


async def test_a_budget_of_another_model_or_currency_neither_refuses_nor_reserves(
    checker: BudgetChecker, store: BudgetStore
) -> None:
    mini = await store.create(budget(id="mini", model="gpt-4o-mini", limit=1))
    euro = await store.create(budget(id="euro", currency="EUR", limit=1))
    assert (await checker.check(CALL)).allowed
    states = await checker.states([mini, euro])
    assert [s.reserved.nanos for s in states] == [0, 0]


async def test_a_retried_check_is_admitted_again_without_reserving_twice(
    checker: BudgetChecker, store: BudgetStore
) -> None:
    b = await store.create(budget(limit=ONE_CALL))
    first = await checker.check(CALL)
    again = await checker.check(CALL)
    assert (first.duplicate, again.allowed, again.duplicate) == (False, True, True)
    assert again.reserved == first.reserved
    assert (await checker.states([b]))[0].reserved.nanos == ONE_CALL


async def test_releasing_a_reservation_frees_its_room(
    checker: BudgetChecker, store: BudgetStore
) -> None:
    await store.create(budget(limit=ONE_CALL))
    assert (await checker.check(CALL)).allowed
    assert not (await checker.check(replace(CALL, request_id="r2"))).allowed
    assert await checker.release("r1")
    assert not await checker.release("r1")
    assert (await checker.check(replace(CALL, request_id="r2"))).allowed


async def test_a_call_to_an_unpriced_model_is_refused_by_hard_budgets_only(
    checker: BudgetChecker, store: BudgetStore
) -> None:
    unknown = replace(CALL, model="mystery")
    await store.create(budget(id="soft", hard=False))
    assert (await checker.check(unknown)).allowed
    await store.create(budget(id="hard"))
    decision = await checker.check(unknown)
    assert not decision.allowed
    assert [s.budget.id for s in decision.exceeded] == ["hard"]


async def test_an_unpriced_call_may_be_admitted_unreserved_and_counted(
    engine: AsyncEngine,
    store: BudgetStore,
    reservations: ReservationStore,
    pricer: TablePricer,
    clock: FakeClock,
) -> None:
    lenient = BudgetChecker(engine, store, reservations, pricer, admit_unpriced=True, clock=clock)
    await store.create(budget())
    decision = await lenient.check(replace(CALL, model="mystery"))
    assert (decision.allowed, decision.reserved.nanos) == (True, 0)
    assert lenient.unpriced_admissions == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x" * 129}, "request_id"),
        ({"input_tokens": -1}, "input_tokens"),
        ({"max_output_tokens": -1}, "max_output_tokens"),
    ],
)
async def test_a_bad_call_is_refused_as_invalid(
    checker: BudgetChecker, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await checker.check(replace(CALL, **change))  # type: ignore[arg-type]
    assert [v.field for v in caught.value.violations] == [field]


async def test_a_check_that_stays_stale_is_unavailable(
    engine: AsyncEngine, store: BudgetStore, pricer: TablePricer
) -> None:
    class AlwaysStale(MemoryReservations):
        async def check_and_reserve(self, request: ReservationRequest) -> ReservationOutcome:
            return ReservationOutcome(Verdict.STALE)

    await store.create(budget())
    with pytest.raises(Unavailable):
        await BudgetChecker(engine, store, AlwaysStale(), pricer).check(CALL)


async def test_budget_race_100_concurrent_checks_admit_10_then_usage_fills_the_budget(
    checker: BudgetChecker, store: BudgetStore, engine: AsyncEngine, accounting: BudgetAccounting
) -> None:
    b = await store.create(budget(limit=10 * ONE_CALL))
    calls = [replace(CALL, request_id=f"r{i}") for i in range(100)]
    decisions = await asyncio.gather(*(checker.check(call) for call in calls))
    admitted = [call for call, d in zip(calls, decisions, strict=True) if d.allowed]
    assert len(admitted) == 10
    await record(engine, accounting, [usage(call.request_id, ONE_CALL) for call in admitted])
    [state] = await checker.states([b])
    assert (state.spent.nanos, state.reserved.nanos) == (10 * ONE_CALL, 0)
    assert not (await checker.check(replace(CALL, request_id="late"))).allowed


async def test_budget_race_with_usage_recorded_meanwhile_never_overshoots(
    checker: BudgetChecker, store: BudgetStore, engine: AsyncEngine, accounting: BudgetAccounting
) -> None:
    """Each admitted call's usage is recorded (spend committed, reservation settled) while
    other checks are in flight: the spend ends at most at the limit."""
    b = await store.create(budget(limit=10 * ONE_CALL))

    async def call(i: int) -> bool:
        decision = await checker.check(replace(CALL, request_id=f"r{i}"))
        if decision.allowed:
            await record(engine, accounting, [usage(f"r{i}", ONE_CALL)])
        return decision.allowed

    admitted = sum(await asyncio.gather(*(call(i) for i in range(100))))
    [state] = await checker.states([b])
    assert state.spent.nanos == admitted * ONE_CALL <= b.limit.nanos
    assert state.reserved.nanos == 0


async def test_each_decision_is_counted_for_the_budget_exhausted_alert(
    engine: AsyncEngine,
    store: BudgetStore,
    reservations: ReservationStore,
    pricer: TablePricer,
    clock: FakeClock,
) -> None:
    registry = CollectorRegistry()
    counted = BudgetChecker(
        engine, store, reservations, pricer, clock=clock, metrics=BudgetMetrics(registry)
    )
    await store.create(budget(limit=ONE_CALL))
    assert (await counted.check(replace(CALL, request_id="fits"))).allowed
    assert not (await counted.check(replace(CALL, request_id="overshoots"))).allowed

    def checks(decision: str) -> float | None:
        return registry.get_sample_value("cost_budget_checks_total", {"decision": decision})

    assert (checks("allowed"), checks("refused")) == (1.0, 1.0)
