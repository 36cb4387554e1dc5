from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.accounting import BudgetAccounting
from services.cost.budgets.alerts import AlertFeed, AlertSubscription, list_alerts
from services.cost.budgets.memory_reservations import MemoryReservations
from services.cost.budgets.model import Alert
from services.cost.budgets.store import BudgetStore
from services.cost.database import create_engine
from services.cost.money import Money
from svckit.errors import ResourceExhausted

from .conftest import NOW, FakeClock, budget, record, usage


def alert(id: str, scope: str = "tenants/acme", threshold: int = 50) -> Alert:
    return Alert(
        id=id,
        budget_id="b1",
        scope=scope,
        threshold=threshold,
        period_start=NOW.replace(day=1, hour=0),
        spent=Money("USD", 60),
        limit=Money("USD", 100),
        raised_at=NOW,
    )


@pytest.fixture
def feed(engine: AsyncEngine, clock: FakeClock) -> AlertFeed:
    return AlertFeed(engine, clock=clock, queue_size=3)


@pytest.fixture
async def other_replica(engine: AsyncEngine, clock: FakeClock) -> BudgetAccounting:
    """Accounting that raises alerts without telling this replica's feed."""
    await BudgetStore(engine).create(budget(limit=100, thresholds=(50, 100)))
    return BudgetAccounting(MemoryReservations(clock=clock), clock=clock)


async def test_alerts_are_listed_newest_first_by_budget_and_limited(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    store = BudgetStore(engine)
    await store.create(budget(id="b1", limit=100, thresholds=(10, 20, 30)))
    await store.create(budget(id="b2", scope="users/acme:u1", limit=100, thresholds=(10,)))
    accounting = BudgetAccounting(MemoryReservations(clock=clock), clock=clock)
    for i, nanos in enumerate((10, 10, 10)):
        clock.advance(60)
        await record(engine, accounting, [usage(f"r{i}", nanos, user="u1")])
    listed = await list_alerts(engine)
    assert len(listed) == 4
    assert [a.threshold for a in listed if a.budget_id == "b1"] == [30, 20, 10]
    assert [a.raised_at for a in listed] == sorted((a.raised_at for a in listed), reverse=True)
    assert [a.threshold for a in await list_alerts(engine, budget_id="b1", limit=2)] == [30, 20]
    assert [a.budget_id for a in await list_alerts(engine, budget_id="b2")] == ["b2"]


async def test_a_published_alert_reaches_the_watchers_of_its_scope_once(feed: AlertFeed) -> None:
    everyone, acme, other = feed.subscribe(), feed.subscribe("tenants/acme"), feed.subscribe("x")
    feed.publish([alert("a1"), alert("a1")])
    feed.close()
    assert [a.id async for a in everyone] == ["a1"]
    assert [a.id async for a in acme] == ["a1"]
    assert [a.id async for a in other] == []


async def test_alerts_another_replica_raised_arrive_by_polling_once(
    engine: AsyncEngine, feed: AlertFeed, other_replica: BudgetAccounting, clock: FakeClock
) -> None:
    assert await feed.poll_once() == 0
    async with feed.subscribe() as watcher:
        await record(engine, other_replica, [usage("r1", 60)])
        assert await feed.poll_once() == 1
        assert await feed.poll_once() == 0
        clock.advance(10)
        await record(engine, other_replica, [usage("r2", 60)])
        assert await feed.poll_once() == 1
        got = [await anext(watcher), await anext(watcher)]
    assert [a.threshold for a in got] == [50, 100]
    assert feed.subscribers == 0


async def test_watching_starts_from_now(
    engine: AsyncEngine, feed: AlertFeed, other_replica: BudgetAccounting
) -> None:
    await record(engine, other_replica, [usage("r1", 60)])
    watcher = feed.subscribe()
    assert await feed.poll_once() == 0  # raised before the feed started
    watcher.close()
    assert [a async for a in watcher] == []


async def test_a_local_alert_is_not_delivered_again_by_polling(
    engine: AsyncEngine, feed: AlertFeed, clock: FakeClock
) -> None:
    await feed.poll_once()
    await BudgetStore(engine).create(budget(limit=100, thresholds=(50,)))
    accounting = BudgetAccounting(MemoryReservations(clock=clock), clock=clock)
    accounting.add_listener(feed.publish)
    watcher = feed.subscribe()
    await record(engine, accounting, [usage("r1", 60)])
    assert await feed.poll_once() == 0
    watcher.close()
    assert [a.threshold async for a in watcher] == [50]


async def test_a_watcher_that_falls_behind_is_dropped_and_told(feed: AlertFeed) -> None:
    watcher = feed.subscribe()
    feed.publish([alert(f"a{i}") for i in range(5)])
    got = [(await anext(watcher)).id for _ in range(3)]
    assert got == ["a0", "a1", "a2"]
    with pytest.raises(ResourceExhausted):
        await anext(watcher)
    assert feed.subscribers == 0
    with pytest.raises(ResourceExhausted):
        await anext(watcher)


async def test_old_alerts_are_forgotten_once_they_cannot_be_polled_again(
    engine: AsyncEngine, feed: AlertFeed, clock: FakeClock
) -> None:
    feed.publish([alert("old")])
    clock.advance(121)
    await feed.poll_once()
    watcher = feed.subscribe()
    feed.publish([replace(alert("old"), raised_at=NOW + timedelta(seconds=121))])
    watcher.close()
    assert [a.id async for a in watcher] == ["old"]


async def test_the_feed_keeps_polling_when_a_poll_fails(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = create_engine(f"sqlite+aiosqlite:///{tmp_path}/no-tables.sqlite3")
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise asyncio.CancelledError

    feed = AlertFeed(broken, sleep=sleep, poll_interval_seconds=0.5)
    with caplog.at_level(logging.WARNING), pytest.raises(asyncio.CancelledError):
        await feed.run()
    await broken.dispose()
    assert naps == [0.5, 0.5]
    assert "polling alerts failed" in caplog.text


async def test_closing_the_feed_ends_its_subscriptions_and_any_made_later(
    feed: AlertFeed,
) -> None:
    before = feed.subscribe()
    feed.close()
    after = feed.subscribe("tenants/acme")
    feed.publish([alert("a1")])
    for ended in (before, after):  # bounded: an open subscription would wait for ever
        assert await asyncio.wait_for(_drained(ended), 10) == []
    assert feed.subscribers == 0


async def _drained(subscription: AlertSubscription) -> list[Alert]:
    return [a async for a in subscription]
