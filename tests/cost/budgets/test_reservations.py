"""One behavioural suite over the memory and Redis reservation stores (`reservations` fixture)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime

from services.cost.budgets.model import Budget
from services.cost.budgets.reservations import (
    DEFAULT_SETTLED_GRACE_SECONDS,
    BudgetLoad,
    Charge,
    ReservationRequest,
    ReservationStore,
    Verdict,
)

from .conftest import NOW, ONE_CALL, FakeClock, budget

TTL = 600.0
START = datetime(2025, 3, 1, tzinfo=NOW.tzinfo)


def loads(*budgets: Budget, spent: int = 0) -> list[BudgetLoad]:
    return [BudgetLoad(b, START, spent) for b in budgets]


async def check(
    store: ReservationStore,
    request_id: str,
    found: Sequence[BudgetLoad],
    amount: int = ONE_CALL,
    *,
    watermark: int | None = None,
    ttl: float = TTL,
) -> Verdict:
    mark = await store.watermark() if watermark is None else watermark
    request = ReservationRequest(request_id, found, amount, ttl, mark)
    return (await store.check_and_reserve(request)).verdict


async def reserved(store: ReservationStore, b: Budget) -> int:
    return await store.reserved_total(b.id, START)


async def test_an_admitted_call_is_reserved_on_every_budget_that_applies(
    reservations: ReservationStore,
) -> None:
    hard, soft = budget(id="hard"), budget(id="soft", hard=False)
    request = ReservationRequest("r1", loads(hard, soft), ONE_CALL, TTL, 0)
    outcome = await reservations.check_and_reserve(request)
    assert (outcome.verdict, outcome.allowed, outcome.amount_nanos) == (
        Verdict.ADMITTED,
        True,
        ONE_CALL,
    )
    assert list(outcome.reserved) == [0, 0]
    assert await reserved(reservations, hard) == ONE_CALL
    assert await reserved(reservations, soft) == ONE_CALL


async def test_a_call_that_could_overshoot_a_hard_budget_is_refused_and_reserves_nothing(
    reservations: ReservationStore,
) -> None:
    roomy, tight = budget(id="roomy"), budget(id="tight", limit=3 * ONE_CALL)
    found = [BudgetLoad(roomy, START, 0), BudgetLoad(tight, START, 2 * ONE_CALL)]
    assert await check(reservations, "r1", found) is Verdict.ADMITTED
    request = ReservationRequest("r2", found, ONE_CALL, TTL, await reservations.watermark())
    outcome = await reservations.check_and_reserve(request)
    assert (outcome.verdict, outcome.allowed) == (Verdict.REFUSED, False)
    assert list(outcome.refused) == [1]
    assert list(outcome.reserved) == [ONE_CALL, ONE_CALL]
    assert await reserved(reservations, roomy) == ONE_CALL


async def test_a_call_that_exactly_fills_a_hard_budget_is_admitted(
    reservations: ReservationStore,
) -> None:
    found = loads(budget(limit=3 * ONE_CALL), spent=2 * ONE_CALL)
    assert await check(reservations, "r1", found) is Verdict.ADMITTED


async def test_a_soft_budget_never_refuses(reservations: ReservationStore) -> None:
    soft = budget(hard=False, limit=ONE_CALL)
    assert await check(reservations, "r1", loads(soft, spent=5 * ONE_CALL)) is Verdict.ADMITTED
    assert await reserved(reservations, soft) == ONE_CALL


async def test_a_retried_check_of_the_same_request_does_not_reserve_twice(
    reservations: ReservationStore,
) -> None:
    b = budget()
    assert await check(reservations, "r1", loads(b), 3 * ONE_CALL) is Verdict.ADMITTED
    request = ReservationRequest("r1", loads(b), 3 * ONE_CALL, TTL, 0)
    outcome = await reservations.check_and_reserve(request)
    assert (outcome.verdict, outcome.allowed, outcome.amount_nanos) == (
        Verdict.DUPLICATE,
        True,
        3 * ONE_CALL,
    )
    assert await reserved(reservations, b) == 3 * ONE_CALL


async def test_a_call_costing_nothing_is_admitted_without_a_reservation(
    reservations: ReservationStore,
) -> None:
    b = budget()
    assert await check(reservations, "r1", loads(b), 0) is Verdict.ADMITTED
    assert await reserved(reservations, b) == 0
    assert not await reservations.release("r1")


async def test_settling_ends_the_reservation_once(reservations: ReservationStore) -> None:
    b = budget()
    await check(reservations, "r1", loads(b))
    assert await reservations.settle("r1", [Charge(b.id, START, ONE_CALL // 2)])
    assert await reserved(reservations, b) == 0
    assert not await reservations.settle("r1", [])
    assert not await reservations.release("r1")


async def test_releasing_ends_the_reservation_once(reservations: ReservationStore) -> None:
    b = budget()
    await check(reservations, "r1", loads(b))
    assert await reservations.release("r1")
    assert not await reservations.release("r1")
    assert await reserved(reservations, b) == 0
    assert await check(reservations, "r2", loads(b, spent=9 * ONE_CALL)) is Verdict.ADMITTED


async def test_an_expired_reservation_stops_counting(
    reservations: ReservationStore, clock: FakeClock
) -> None:
    b = budget(limit=ONE_CALL)
    await check(reservations, "r1", loads(b), ttl=30)
    assert await check(reservations, "r2", loads(b), ttl=30) is Verdict.REFUSED
    clock.advance(30)
    assert await reserved(reservations, b) == 0
    assert not await reservations.release("r1")
    assert await check(reservations, "r2", loads(b), ttl=30) is Verdict.ADMITTED
    assert await reserved(reservations, b) == ONE_CALL


async def test_a_request_id_whose_reservation_expired_may_reserve_again(
    reservations: ReservationStore, clock: FakeClock
) -> None:
    b = budget()
    await check(reservations, "r1", loads(b), ttl=30)
    clock.advance(31)
    assert await check(reservations, "r1", loads(b), ttl=30) is Verdict.ADMITTED
    assert await reserved(reservations, b) == ONE_CALL


async def test_a_settlement_after_the_watermark_counts_as_it_may_be_missing_from_spend(
    reservations: ReservationStore,
) -> None:
    """The checker read the watermark, then spend (0), and meanwhile a call's usage committed
    and settled: the check must still count that call."""
    b = budget(limit=2 * ONE_CALL)
    assert await check(reservations, "r1", loads(b)) is Verdict.ADMITTED
    before = await reservations.watermark()
    assert await reservations.settle("r1", [Charge(b.id, START, ONE_CALL)])
    request = ReservationRequest("r2", loads(b), 2 * ONE_CALL, TTL, before)
    outcome = await reservations.check_and_reserve(request)
    assert outcome.verdict is Verdict.REFUSED
    assert list(outcome.reserved) == [ONE_CALL]
    # A check that read the watermark after the settlement reads spend that includes it.
    after = await reservations.watermark()
    assert after > before
    assert await check(reservations, "r3", loads(b, spent=ONE_CALL), watermark=after) is (
        Verdict.ADMITTED
    )


async def test_a_settlement_without_a_reservation_still_counts_for_older_watermarks(
    reservations: ReservationStore,
) -> None:
    b = budget(limit=ONE_CALL)
    before = await reservations.watermark()
    assert not await reservations.settle("never-checked", [Charge(b.id, START, ONE_CALL)])
    assert await check(reservations, "r1", loads(b), watermark=before) is Verdict.REFUSED


async def test_a_watermark_older_than_the_settlements_kept_is_stale(
    reservations: ReservationStore, clock: FakeClock
) -> None:
    b = budget()
    before = await reservations.watermark()
    await reservations.settle("r1", [Charge(b.id, START, ONE_CALL)])
    clock.advance(DEFAULT_SETTLED_GRACE_SECONDS + 1)
    assert await check(reservations, "r2", loads(b), watermark=before) is Verdict.STALE
    assert await reserved(reservations, b) == 0
    assert await check(reservations, "r2", loads(b, spent=ONE_CALL)) is Verdict.ADMITTED


async def test_budget_race_100_concurrent_calls_admit_exactly_10_of_a_budget_worth_10(
    reservations: ReservationStore,
) -> None:
    b = budget(limit=10 * ONE_CALL)
    verdicts = await asyncio.gather(
        *(check(reservations, f"r{i}", loads(b), watermark=0) for i in range(100))
    )
    admitted = [f"r{i}" for i, verdict in enumerate(verdicts) if verdict is Verdict.ADMITTED]
    assert len(admitted) == 10
    assert verdicts.count(Verdict.REFUSED) == 90
    assert await reserved(reservations, b) == 10 * ONE_CALL
    # Their usage arrives with the real cost (equal to the estimate here): spend is full.
    for request_id in admitted:
        assert await reservations.settle(request_id, [Charge(b.id, START, ONE_CALL)])
    assert await reserved(reservations, b) == 0
    assert await check(reservations, "late", loads(b, spent=10 * ONE_CALL)) is Verdict.REFUSED


async def test_budget_race_across_two_hard_budgets_reserves_only_what_both_admit(
    reservations: ReservationStore,
) -> None:
    tenant, user = budget(id="tenant", limit=10 * ONE_CALL), budget(id="user", limit=5 * ONE_CALL)
    verdicts = await asyncio.gather(
        *(check(reservations, f"r{i}", loads(tenant, user), watermark=0) for i in range(100))
    )
    assert verdicts.count(Verdict.ADMITTED) == 5
    assert await reserved(reservations, tenant) == 5 * ONE_CALL
    assert await reserved(reservations, user) == 5 * ONE_CALL


async def test_budget_race_with_usage_settling_meanwhile_never_overshoots(
    reservations: ReservationStore,
) -> None:
    """100 callers each follow the checker's steps (watermark, read spend, check and reserve)
    while admitted calls commit their usage to spend and settle, interleaved at random. The
    spend read can be stale by the time the store decides; the watermark makes up for it."""
    b = budget(limit=10 * ONE_CALL)
    spent = [0]  # the database's cost_budget_spend
    rng = random.Random(7)
    pauses = [[rng.randint(0, 3) for _ in range(3)] for _ in range(100)]

    async def pause(turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)

    async def call(i: int) -> bool:
        mark = await reservations.watermark()
        await pause(pauses[i][0])
        read = spent[0]
        await pause(pauses[i][1])
        verdict = await check(reservations, f"r{i}", loads(b, spent=read), watermark=mark)
        if verdict is not Verdict.ADMITTED:
            return False
        await pause(pauses[i][2])
        spent[0] += ONE_CALL  # the ledger's transaction commits
        await reservations.settle(f"r{i}", [Charge(b.id, START, ONE_CALL)])
        return True

    admitted = sum(await asyncio.gather(*(call(i) for i in range(100))))
    assert 1 <= admitted <= 10
    assert spent[0] <= b.limit.nanos
    assert await reserved(reservations, b) == 0


async def test_budget_race_with_estimates_above_the_real_cost_admits_fewer(
    reservations: ReservationStore,
) -> None:
    """Worst cases of 2 calls each: 5 admitted; their real cost (1 call each) leaves room."""
    b = budget(limit=10 * ONE_CALL)
    verdicts = await asyncio.gather(
        *(check(reservations, f"r{i}", loads(b), 2 * ONE_CALL, watermark=0) for i in range(100))
    )
    admitted = [f"r{i}" for i, verdict in enumerate(verdicts) if verdict is Verdict.ADMITTED]
    assert len(admitted) == 5
    for request_id in admitted:
        await reservations.settle(request_id, [Charge(b.id, START, ONE_CALL)])
    assert await check(reservations, "more", loads(b, spent=5 * ONE_CALL)) is Verdict.ADMITTED


async def test_closing_the_store_is_harmless(reservations: ReservationStore) -> None:
    await reservations.aclose()
