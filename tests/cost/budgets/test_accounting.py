from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.accounting import BudgetAccounting, read_spent
from services.cost.budgets.alerts import list_alerts
from services.cost.budgets.memory_reservations import MemoryReservations
from services.cost.budgets.model import Alert, Budget
from services.cost.budgets.periods import Period
from services.cost.budgets.reservations import BudgetLoad, Charge, ReservationRequest, Verdict
from services.cost.budgets.store import BudgetStore
from services.cost.database import create_engine, migrate
from services.cost.tables import alerts as alerts_table

from .conftest import NOW, ONE_CALL, FakeClock, budget, record, usage

MARCH = NOW.replace(day=1, hour=0)
APRIL = MARCH.replace(month=4)


class Heard:
    """An alert listener that keeps what it hears."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def __call__(self, raised: Sequence[Alert]) -> None:
        self.alerts.extend(raised)


@pytest.fixture
def store(engine: AsyncEngine) -> BudgetStore:
    return BudgetStore(engine)


@pytest.fixture
def memory(clock: FakeClock) -> MemoryReservations:
    return MemoryReservations(clock=clock)


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
def accounting(memory: MemoryReservations, heard: Heard, clock: FakeClock) -> BudgetAccounting:
    return BudgetAccounting(memory, listeners=[heard], clock=clock)


async def spent(engine: AsyncEngine, b: Budget, start: datetime = MARCH) -> int:
    async with engine.connect() as conn:
        return (await read_spent(conn, [(b.id, start)]))[(b.id, start)]


async def test_priced_usage_counts_towards_every_budget_that_applies(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting
) -> None:
    tenant = await store.create(budget(id="tenant"))
    user = await store.create(budget(id="user", scope="users/acme:u1"))
    this_model = await store.create(budget(id="mini", scope="users/acme:u1", model="gpt-4o-mini"))
    other = await store.create(budget(id="other", scope="tenants/other"))
    await record(engine, accounting, [usage("r1", 3, user="u1"), usage("r2", 4)])
    await record(engine, accounting, [usage("r3", 5, user="u1", model="gpt-4o-mini")])
    assert await spent(engine, tenant) == 12
    assert await spent(engine, user) == 8
    assert await spent(engine, this_model) == 5
    assert await spent(engine, other) == 0


async def test_unpriced_usage_and_usage_in_another_currency_count_nothing(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting
) -> None:
    b = await store.create(budget())
    await record(engine, accounting, [usage("r1", None), usage("r2", 7, currency="EUR")])
    assert await spent(engine, b) == 0
    async with engine.connect() as conn:
        assert await read_spent(conn, []) == {}


async def test_usage_counts_in_the_period_it_happened_in(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting
) -> None:
    b = await store.create(budget(thresholds=()))
    late_march = APRIL - timedelta(seconds=1)
    await record(engine, accounting, [usage("r1", 2, at=late_march), usage("r2", 3, at=APRIL)])
    assert await spent(engine, b, MARCH) == 2
    assert await spent(engine, b, APRIL) == 3


async def test_a_daily_budget_in_a_time_zone_counts_by_local_day(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting
) -> None:
    b = await store.create(budget(period=Period.DAILY, time_zone="Asia/Tokyo", thresholds=()))
    # 15:00 UTC is midnight in Tokyo: the two calls are on different local days.
    before = usage("r1", 2, at=NOW - timedelta(seconds=1))
    await record(engine, accounting, [before, usage("r2", 3, at=NOW)])
    assert await spent(engine, b, NOW) == 3
    assert await spent(engine, b, NOW - timedelta(days=1)) == 2


async def test_crossing_thresholds_raises_one_alert_each_and_tells_the_listeners(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting, heard: Heard
) -> None:
    b = await store.create(budget(limit=100, thresholds=(50, 80, 100)))
    await record(engine, accounting, [usage("r1", 49)])
    assert heard.alerts == []
    await record(engine, accounting, [usage("r2", 1)])
    assert [(a.threshold, a.spent.nanos) for a in heard.alerts] == [(50, 50)]
    await record(engine, accounting, [usage("r3", 60)])
    assert [a.threshold for a in heard.alerts] == [50, 80, 100]
    alert = heard.alerts[-1]
    assert (alert.budget_id, alert.scope, alert.limit) == (b.id, b.scope, b.limit)
    assert alert.period_start == MARCH
    assert alert.raised_at == NOW
    stored = await list_alerts(engine)
    assert sorted(a.threshold for a in stored) == [50, 80, 100]
    assert {a.id for a in stored} == {a.id for a in heard.alerts}


async def test_a_threshold_fires_once_per_period_and_again_in_the_next(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting, heard: Heard
) -> None:
    await store.create(budget(limit=100, thresholds=(50,)))
    for i in range(5):
        await record(engine, accounting, [usage(f"m{i}", 30)])
    await record(engine, accounting, [usage("a1", 60, at=APRIL)])
    assert [(a.threshold, a.period_start) for a in heard.alerts] == [(50, MARCH), (50, APRIL)]


async def test_a_batch_crossing_a_threshold_raises_it_once(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting, heard: Heard
) -> None:
    await store.create(budget(limit=100, thresholds=(50,)))
    await record(engine, accounting, [usage(f"r{i}", 30) for i in range(4)])
    assert [a.threshold for a in heard.alerts] == [50]
    assert heard.alerts[0].spent.nanos == 120


async def test_an_alert_already_in_the_table_is_not_raised_again(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting, heard: Heard
) -> None:
    """The unique constraint guards against a crossing computed twice (here: the spend row
    was lost and the same crossing happens again)."""
    b = await store.create(budget(limit=100, thresholds=(50,)))
    await record(engine, accounting, [usage("r1", 60)])
    await store.delete(b.id)  # drops the spend, keeps the alerts
    await store.create(b)
    await record(engine, accounting, [usage("r2", 60)])
    assert len(heard.alerts) == 1
    assert len(await list_alerts(engine)) == 1


async def test_a_rolled_back_ledger_transaction_counts_nothing_and_raises_nothing(
    engine: AsyncEngine, store: BudgetStore, accounting: BudgetAccounting, heard: Heard
) -> None:
    b = await store.create(budget(limit=100, thresholds=(50,)))

    async def failing_ledger_write() -> None:
        async with engine.begin() as conn:
            await accounting.in_transaction(conn, [usage("r1", 60)])
            raise RuntimeError("the ledger insert failed")

    with pytest.raises(RuntimeError):
        await failing_ledger_write()
    assert await spent(engine, b) == 0
    assert await list_alerts(engine) == []
    await record(engine, accounting, [usage("r1", 60)])  # the retry
    assert await spent(engine, b) == 60
    assert len(heard.alerts) == 1


async def test_recorded_usage_settles_its_reservation(
    engine: AsyncEngine,
    store: BudgetStore,
    accounting: BudgetAccounting,
    memory: MemoryReservations,
) -> None:
    b = await store.create(budget())
    request = ReservationRequest("r1", [BudgetLoad(b, MARCH, 0)], 5 * ONE_CALL, 600, 0)
    assert (await memory.check_and_reserve(request)).verdict is Verdict.ADMITTED
    before = await memory.watermark()
    await record(engine, accounting, [usage("r1", ONE_CALL), usage("r2", None)])
    assert await memory.reserved_total(b.id, MARCH) == 0
    # A check that read spend before that commit still counts the call's real cost.
    stale = ReservationRequest("r3", [BudgetLoad(b, MARCH, 0)], 10 * ONE_CALL, 600, before)
    assert (await memory.check_and_reserve(stale)).verdict is Verdict.REFUSED


async def test_a_failing_listener_or_settlement_does_not_fail_the_write(
    engine: AsyncEngine, store: BudgetStore, clock: FakeClock, heard: Heard
) -> None:
    class Broken(MemoryReservations):
        async def settle(self, request_id: str, charges: Sequence[Charge]) -> bool:
            raise ConnectionError("redis is away")

    def deaf(raised: Sequence[Alert]) -> None:
        raise ValueError("listener bug")

    accounting = BudgetAccounting(Broken(clock=clock), listeners=[deaf], clock=clock)
    accounting.add_listener(heard)
    b = await store.create(budget(limit=100, thresholds=(50,)))
    await record(engine, accounting, [usage("r1", 60)])
    assert await spent(engine, b) == 60
    assert len(heard.alerts) == 1


@pytest.fixture
async def two_replicas(postgres_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on one PostgreSQL database: what two cost replicas hold. (The embedded
    SQLite serves one process, so this is PostgreSQL only.)"""
    await migrate(postgres_url)
    first, second = create_engine(postgres_url), create_engine(postgres_url)
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_two_replicas_recording_concurrently_count_exactly_and_fire_each_threshold_once(
    two_replicas: tuple[AsyncEngine, AsyncEngine], clock: FakeClock
) -> None:
    engine = two_replicas[0]
    store = BudgetStore(engine)
    levels = (*range(10, 101, 10), 150, 200, 500)
    tenant = await store.create(budget(id="tenant", limit=10 * ONE_CALL, thresholds=levels))
    user = await store.create(budget(id="user", scope="users/acme:u1", limit=10 * ONE_CALL))
    replicas = []
    for replica_engine in two_replicas:
        heard = Heard()
        hook = BudgetAccounting(MemoryReservations(clock=clock), listeners=[heard], clock=clock)
        replicas.append((replica_engine, hook, heard))

    async def one(i: int) -> None:
        replica_engine, accounting, _ = replicas[i % 2]
        await record(replica_engine, accounting, [usage(f"r{i}", ONE_CALL, user=f"u{i % 3}")])

    await asyncio.gather(*(one(i) for i in range(60)))
    assert await spent(engine, tenant) == 60 * ONE_CALL
    assert await spent(engine, user) == 20 * ONE_CALL
    raised = [alert for _, _, heard in replicas for alert in heard.alerts]
    tenant_levels = sorted(a.threshold for a in raised if a.budget_id == "tenant")
    assert tenant_levels == sorted(levels)
    assert sorted(a.threshold for a in raised if a.budget_id == "user") == [50, 80, 100]
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(alerts_table))).scalar_one()
    assert rows == len(levels) + 3
    assert all(heard.alerts for _, _, heard in replicas)  # both replicas raised some
