"""Counter store behaviour, the same suite against the memory store and real Redis."""

from __future__ import annotations

import asyncio

from services.ratelimit.envoy.counters import Increment, MemoryCounterStore

from .harness import FakeClock, StoreView


async def test_increment_returns_the_totals_in_order(view: StoreView) -> None:
    batch = [Increment("a", 2, 60), Increment("b", 5, 60), Increment("a", 3, 60)]
    assert await view.store.increment(batch) == [2, 5, 5]
    assert await view.value("a") == 5
    assert await view.value("b") == 5


async def test_every_increment_sets_the_time_to_live(view: StoreView) -> None:
    await view.store.increment([Increment("k", 1, 3600)])
    assert await view.ttl("k") == 3600
    await view.store.increment([Increment("k", 1, 60)])
    assert await view.ttl("k") == 60


async def test_zero_hits_read_without_consuming(view: StoreView) -> None:
    assert await view.store.increment([Increment("peek", 0, 60)]) == [0]
    await view.seed("peek", 7)
    assert await view.store.increment([Increment("peek", 0, 60)]) == [7]
    assert await view.value("peek") == 7


async def test_an_empty_batch_is_a_no_op(view: StoreView) -> None:
    assert await view.store.increment([]) == []
    assert await view.keys() == set()


async def test_concurrent_callers_never_lose_an_update(view: StoreView) -> None:
    async def one() -> int:
        (value,) = await view.store.increment([Increment("hot", 1, 60)])
        return value

    results = await asyncio.gather(*(one() for _ in range(200)))
    assert sorted(results) == list(range(1, 201))
    assert await view.value("hot") == 200


async def test_memory_counter_restarts_after_expiry() -> None:
    clock = FakeClock(100)
    store = MemoryCounterStore(clock)
    await store.increment([Increment("k", 4, 10)])
    clock.now = 109.5
    assert await store.increment([Increment("k", 1, 10)]) == [5]
    clock.now = 119.5
    assert store.get("k") is None
    assert await store.increment([Increment("k", 1, 10)]) == [1]


async def test_memory_store_sweeps_expired_counters() -> None:
    clock = FakeClock(100)
    store = MemoryCounterStore(clock, sweep_interval=1.0)
    await store.increment([Increment(f"k{i}", 1, 5) for i in range(50)])
    assert len(store) == 50
    clock.now = 106
    await store.increment([Increment("fresh", 1, 5)])
    assert len(store) == 1
    assert store.keys() == ["fresh"]
