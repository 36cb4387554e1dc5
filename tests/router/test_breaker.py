"""The circuit breaker's behaviour, run once on the memory store and once on Redis.

A fake clock moves time by hand; policies are small so each rule is reached in a few calls.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from services.router.breaker import (
    BreakerPolicy,
    BreakerSnapshot,
    BreakerState,
    BreakerStore,
    CircuitBreakers,
    Permit,
)
from services.router.breaker_metrics import BreakerMetrics
from services.router.memory_breaker_store import MemoryBreakerStore
from services.router.redis_breaker_store import RedisBreakerStore

START = 1_736_164_800.0
"""2025-01-06 12:00:00 UTC, a multiple of every bucket length used here."""

POLICY = BreakerPolicy(
    window_seconds=10,
    window_buckets=10,
    min_calls=4,
    failure_rate_threshold=0.5,
    consecutive_failures=3,
    open_seconds=15,
    half_open_max_probes=1,
    half_open_successes=1,
    probe_timeout_seconds=5,
)

RATE_ONLY = BreakerPolicy(
    window_seconds=10, min_calls=4, consecutive_failures=1000, open_seconds=15
)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, key_prefix: str) -> BreakerStore:
    if request.param == "memory":
        return MemoryBreakerStore()
    client: aioredis.Redis = request.getfixturevalue("redis_client")
    return RedisBreakerStore(client, key_prefix=key_prefix)


def make_breakers(
    store: BreakerStore,
    clock: FakeClock,
    policy: BreakerPolicy = POLICY,
    registry: CollectorRegistry | None = None,
) -> CircuitBreakers:
    metrics = BreakerMetrics(registry) if registry is not None else None
    return CircuitBreakers(store, policy, clock, metrics)


@pytest.fixture
def breakers(store: BreakerStore, clock: FakeClock, registry: CollectorRegistry) -> CircuitBreakers:
    return make_breakers(store, clock, POLICY, registry)


async def call(breakers: CircuitBreakers, success: bool, deployment: str = "a") -> Permit:
    """One call through the breaker, which must let it pass."""
    permit = await breakers.acquire(deployment)
    assert permit is not None
    await breakers.record(permit, success)
    return permit


async def calls(breakers: CircuitBreakers, outcomes: str, deployment: str = "a") -> None:
    """Calls with outcomes written as a string: "s" a success, "f" a failure."""
    for outcome in outcomes:
        await call(breakers, outcome == "s", deployment)


async def state(breakers: CircuitBreakers, deployment: str = "a") -> BreakerState:
    return (await breakers.snapshot(deployment)).state


async def open_breaker(breakers: CircuitBreakers, deployment: str = "a") -> None:
    await calls(breakers, "fff", deployment)
    assert await state(breakers, deployment) is BreakerState.OPEN


async def test_an_unknown_deployment_is_closed_and_grants_plain_permits(
    breakers: CircuitBreakers,
) -> None:
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.CLOSED, None)
    permit = await breakers.acquire("a")
    assert permit is not None
    assert permit.deployment == "a"
    assert breakers.policy is POLICY
    assert not permit.is_probe


async def test_opens_when_the_failure_rate_reaches_the_threshold(
    store: BreakerStore, clock: FakeClock
) -> None:
    breakers = make_breakers(store, clock, RATE_ONLY)
    await calls(breakers, "sfsf")
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.OPEN, START + 15)
    assert await breakers.acquire("a") is None


async def test_stays_closed_below_min_calls_whatever_the_rate(
    store: BreakerStore, clock: FakeClock
) -> None:
    breakers = make_breakers(store, clock, RATE_ONLY)
    await calls(breakers, "fff")
    assert await state(breakers) is BreakerState.CLOSED


async def test_stays_closed_below_the_failure_rate(store: BreakerStore, clock: FakeClock) -> None:
    breakers = make_breakers(store, clock, RATE_ONLY)
    await calls(breakers, "sfssfssfss")
    assert await state(breakers) is BreakerState.CLOSED


async def test_opens_on_consecutive_failures_even_at_a_low_rate(
    breakers: CircuitBreakers,
) -> None:
    await calls(breakers, "ssssssssss")
    await calls(breakers, "ff")
    assert await state(breakers) is BreakerState.CLOSED
    await calls(breakers, "f")
    assert await state(breakers) is BreakerState.OPEN


async def test_a_success_breaks_the_failure_streak(store: BreakerStore, clock: FakeClock) -> None:
    breakers = make_breakers(store, clock, BreakerPolicy(min_calls=100, consecutive_failures=3))
    await calls(breakers, "ffsffsff")
    assert await state(breakers) is BreakerState.CLOSED


async def test_the_window_forgets_old_failures(store: BreakerStore, clock: FakeClock) -> None:
    breakers = make_breakers(store, clock, RATE_ONLY)
    await calls(breakers, "fff")
    clock.advance(10)
    await calls(breakers, "sss")
    assert await state(breakers) is BreakerState.CLOSED
    await calls(breakers, "f")
    assert await state(breakers) is BreakerState.CLOSED


async def test_the_window_slides_one_bucket_at_a_time(
    store: BreakerStore, clock: FakeClock
) -> None:
    """Failures 9 s ago still count in a 10 s window; those that left it do not."""
    breakers = make_breakers(store, clock, RATE_ONLY)
    await calls(breakers, "ff")
    clock.advance(9)
    await calls(breakers, "fs")
    assert await state(breakers) is BreakerState.OPEN


async def test_open_refuses_calls_until_the_cool_down_ends(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(14.9)
    assert await breakers.acquire("a") is None
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.OPEN, START + 15)


async def test_after_the_cool_down_one_caller_gets_a_probe_and_others_wait(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(15)
    probe = await breakers.acquire("a")
    assert probe is not None
    assert probe.is_probe
    assert await breakers.acquire("a") is None
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.HALF_OPEN, clock.now + 5)


async def test_a_probe_success_closes_the_breaker_with_an_empty_window(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(15)
    probe = await breakers.acquire("a")
    assert probe is not None
    await breakers.record(probe, True)
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.CLOSED, None)
    await calls(breakers, "ff")
    assert await state(breakers) is BreakerState.CLOSED


async def test_a_probe_failure_reopens_with_a_fresh_cool_down(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(20)
    probe = await breakers.acquire("a")
    assert probe is not None
    clock.advance(1)
    await breakers.record(probe, False)
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.OPEN, clock.now + 15)
    assert await breakers.acquire("a") is None


async def test_closing_needs_the_configured_number_of_probe_successes(
    store: BreakerStore, clock: FakeClock
) -> None:
    policy = BreakerPolicy(consecutive_failures=1, half_open_max_probes=2, half_open_successes=2)
    breakers = make_breakers(store, clock, policy)
    await calls(breakers, "f")
    clock.advance(policy.open_seconds)
    first, second = await breakers.acquire("a"), await breakers.acquire("a")
    assert first is not None
    assert first.is_probe
    assert second is not None
    assert second.is_probe
    assert await breakers.acquire("a") is None
    await breakers.record(first, True)
    assert await state(breakers) is BreakerState.HALF_OPEN
    assert (await breakers.snapshot("a")).retry_at is None
    await breakers.record(second, True)
    assert await state(breakers) is BreakerState.CLOSED


async def test_an_unreported_probe_expires_and_frees_its_slot(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(15)
    lost = await breakers.acquire("a")
    assert lost is not None
    assert lost.is_probe
    clock.advance(5)
    assert (await breakers.snapshot("a")).retry_at is None
    replacement = await breakers.acquire("a")
    assert replacement is not None
    assert replacement.is_probe
    await breakers.record(lost, False)
    assert await state(breakers) is BreakerState.HALF_OPEN
    await breakers.record(replacement, True)
    assert await state(breakers) is BreakerState.CLOSED


async def test_a_probe_reported_after_its_expiry_is_ignored(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(15)
    probe = await breakers.acquire("a")
    assert probe is not None
    clock.advance(5)
    await breakers.record(probe, True)
    assert await state(breakers) is BreakerState.HALF_OPEN


async def test_a_released_probe_frees_its_slot_and_decides_nothing(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    """A probe whose caller went away: the deployment neither closes nor reopens."""
    await open_breaker(breakers)
    clock.advance(15)
    cancelled = await breakers.acquire("a")
    assert cancelled is not None
    await breakers.release(cancelled)
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.HALF_OPEN, None)
    replacement = await breakers.acquire("a")
    assert replacement is not None
    assert replacement.is_probe
    await breakers.record(cancelled, True)
    assert await state(breakers) is BreakerState.HALF_OPEN
    await breakers.record(replacement, False)
    assert await state(breakers) is BreakerState.OPEN


async def test_a_released_plain_permit_neither_breaks_a_streak_nor_counts_a_call(
    store: BreakerStore, clock: FakeClock
) -> None:
    """Counted as a success it would fill the window to a failing rate; as a failure, end the
    streak; it does neither."""
    breakers = make_breakers(store, clock, BreakerPolicy(min_calls=4, consecutive_failures=4))
    await calls(breakers, "fff")
    cancelled = await breakers.acquire("a")
    assert cancelled is not None
    await breakers.release(cancelled)
    assert await state(breakers) is BreakerState.CLOSED
    await calls(breakers, "f")
    assert await state(breakers) is BreakerState.OPEN


async def test_releasing_a_probe_of_an_earlier_epoch_frees_no_current_slot(
    store: BreakerStore, clock: FakeClock
) -> None:
    """Probe ids start again in each epoch: an old permit must not free a new probe's slot."""
    breakers = make_breakers(store, clock, POLICY)
    await open_breaker(breakers)
    clock.advance(15)
    old = await breakers.acquire("a")
    assert old is not None
    await breakers.record(old, False)
    clock.advance(15)
    current = await breakers.acquire("a")
    assert current is not None
    assert current.probe_id == old.probe_id
    await breakers.release(old)
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.HALF_OPEN, clock.now + 5)
    assert await breakers.acquire("a") is None


async def test_results_reported_while_open_do_not_stretch_the_cool_down(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    slow = await breakers.acquire("a")
    assert slow is not None
    await open_breaker(breakers)
    clock.advance(10)
    await breakers.record(slow, False)
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.OPEN, START + 15)


async def test_results_of_calls_begun_before_the_breaker_opened_are_ignored_after_it_closed(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    slow = [await breakers.acquire("a") for _ in range(3)]
    await open_breaker(breakers)
    clock.advance(15)
    probe = await breakers.acquire("a")
    assert probe is not None
    await breakers.record(probe, True)
    for permit in slow:
        assert permit is not None
        await breakers.record(permit, False)
    assert await state(breakers) is BreakerState.CLOSED


async def test_plain_results_do_not_decide_a_half_open_breaker(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(15)
    probe = await breakers.acquire("a")
    assert probe is not None
    await breakers.record(Permit("a", probe.epoch), False)
    assert await state(breakers) is BreakerState.HALF_OPEN


async def test_deployments_have_independent_breakers(breakers: CircuitBreakers) -> None:
    await open_breaker(breakers, "a")
    assert await breakers.acquire("b") is not None
    assert await breakers.snapshots(["a", "b", "a"]) == {
        "a": BreakerSnapshot(BreakerState.OPEN, START + 15),
        "b": BreakerSnapshot(BreakerState.CLOSED, None),
    }
    assert await breakers.snapshots([]) == {}


async def test_a_snapshot_does_not_move_an_open_breaker_to_half_open(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    await open_breaker(breakers)
    clock.advance(30)
    assert await breakers.snapshot("a") == BreakerSnapshot(BreakerState.OPEN, START + 15)


async def test_the_state_gauge_follows_the_full_cycle(
    breakers: CircuitBreakers, clock: FakeClock, registry: CollectorRegistry
) -> None:
    def gauge() -> float | None:
        return registry.get_sample_value("router_circuit_state", {"deployment": "a"})

    def moves(to: str) -> float | None:
        labels = {"deployment": "a", "to": to}
        return registry.get_sample_value("router_circuit_transitions_total", labels)

    await calls(breakers, "s")
    assert gauge() == 0
    await open_breaker(breakers)
    assert (gauge(), moves("open")) == (1, 1)
    clock.advance(15)
    probe = await breakers.acquire("a")
    assert probe is not None
    assert (gauge(), moves("half_open")) == (2, 1)
    await breakers.record(probe, False)
    assert (gauge(), moves("open")) == (1, 2)
    clock.advance(15)
    probe = await breakers.acquire("a")
    assert probe is not None
    await breakers.record(probe, True)
    assert (gauge(), moves("closed"), moves("half_open")) == (0, 1, 2)


async def test_a_snapshot_updates_the_state_gauge(
    store: BreakerStore, clock: FakeClock, registry: CollectorRegistry
) -> None:
    writer = make_breakers(store, clock)
    await open_breaker(writer)
    observer = make_breakers(store, clock, registry=registry)
    assert registry.get_sample_value("router_circuit_state", {"deployment": "a"}) is None
    await observer.snapshots(["a"])
    assert registry.get_sample_value("router_circuit_state", {"deployment": "a"}) == 1


@pytest.mark.parametrize(
    "field",
    [
        "window_seconds",
        "window_buckets",
        "min_calls",
        "failure_rate_threshold",
        "consecutive_failures",
        "half_open_max_probes",
        "half_open_successes",
        "probe_timeout_seconds",
    ],
)
def test_a_policy_refuses_a_zero_setting(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        BreakerPolicy(**{field: 0})


def test_a_policy_refuses_a_negative_cool_down() -> None:
    with pytest.raises(ValueError, match="open_seconds"):
        BreakerPolicy(open_seconds=-1)
