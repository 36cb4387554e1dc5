"""What only the Redis store must prove: replicas agree, exactly, and a dead Redis blocks nothing.

Two replicas are two `RedisBreakerStore`s on two clients (two connection pools) sharing one
Redis, each behind its own `CircuitBreakers` and metrics registry.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.router.breaker import (
    BreakerPolicy,
    BreakerSnapshot,
    BreakerState,
    CircuitBreakers,
    Permit,
)
from services.router.breaker_metrics import BreakerMetrics
from services.router.redis_breaker_store import RedisBreakerStore

START = 1_736_164_800.0
POLICY = BreakerPolicy(consecutive_failures=3, open_seconds=15, probe_timeout_seconds=5)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Replica:
    """One router replica's breakers, with its own Redis client and metrics."""

    def __init__(
        self, client: aioredis.Redis, key_prefix: str, clock: FakeClock, policy: BreakerPolicy
    ) -> None:
        self.registry = CollectorRegistry()
        self.store = RedisBreakerStore(client, key_prefix=key_prefix, timeout_seconds=10)
        self.breakers = CircuitBreakers(self.store, policy, clock, BreakerMetrics(self.registry))

    def transitions(self, deployment: str, to: str) -> float:
        labels = {"deployment": deployment, "to": to}
        return self.registry.get_sample_value("router_circuit_transitions_total", labels) or 0.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def second_client(
    redis_client: aioredis.Redis, redis_url: str
) -> AsyncIterator[aioredis.Redis]:
    """Another connection pool to the same Redis (`redis_client` cleans the keys up)."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def replicas(
    first: aioredis.Redis,
    second: aioredis.Redis,
    key_prefix: str,
    clock: FakeClock,
    policy: BreakerPolicy = POLICY,
) -> tuple[Replica, Replica]:
    return Replica(first, key_prefix, clock, policy), Replica(second, key_prefix, clock, policy)


async def fail(breakers: CircuitBreakers, deployment: str = "a") -> None:
    permit = await breakers.acquire(deployment)
    assert permit is not None
    await breakers.record(permit, False)


async def test_a_breaker_opened_by_one_replica_refuses_calls_on_another(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    one, two = replicas(redis_client, second_client, key_prefix, clock)
    await fail(one.breakers)
    await fail(two.breakers)
    await fail(one.breakers)
    assert await two.breakers.acquire("a") is None
    assert (await two.breakers.snapshot("a")).state is BreakerState.OPEN
    assert (one.transitions("a", "open"), two.transitions("a", "open")) == (1, 0)


@pytest.mark.parametrize("max_probes", [1, 3])
async def test_concurrent_acquirers_on_two_replicas_get_exactly_the_allowed_probes(
    redis_client: aioredis.Redis,
    second_client: aioredis.Redis,
    key_prefix: str,
    clock: FakeClock,
    max_probes: int,
) -> None:
    policy = BreakerPolicy(consecutive_failures=1, half_open_max_probes=max_probes)
    one, two = replicas(redis_client, second_client, key_prefix, clock, policy)
    await fail(one.breakers)
    clock.advance(policy.open_seconds)
    permits = await asyncio.gather(
        *(replica.breakers.acquire("a") for _ in range(25) for replica in (one, two))
    )
    granted = [permit for permit in permits if permit is not None]
    assert len(granted) == max_probes
    assert all(permit.is_probe and permit.tracked for permit in granted)
    assert len({permit.probe_id for permit in granted}) == max_probes
    assert one.transitions("a", "half_open") + two.transitions("a", "half_open") == 1


async def test_concurrent_failures_on_two_replicas_open_the_breaker_once(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    one, two = replicas(redis_client, second_client, key_prefix, clock)
    permits = [await replica.breakers.acquire("a") for _ in range(25) for replica in (one, two)]
    await asyncio.gather(
        *(
            replica.breakers.record(permit, False)
            for replica, permit in zip([one, two] * 25, permits, strict=True)
            if permit is not None
        )
    )
    assert one.transitions("a", "open") + two.transitions("a", "open") == 1
    assert (await one.breakers.snapshot("a")).retry_at == START + POLICY.open_seconds


async def test_concurrent_probe_results_close_the_breaker_once(
    redis_client: aioredis.Redis, second_client: aioredis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    policy = BreakerPolicy(consecutive_failures=1, half_open_max_probes=20, half_open_successes=5)
    one, two = replicas(redis_client, second_client, key_prefix, clock, policy)
    await fail(one.breakers)
    clock.advance(policy.open_seconds)
    probes = [await replica.breakers.acquire("a") for _ in range(10) for replica in (one, two)]
    await asyncio.gather(
        *(
            replica.breakers.record(probe, True)
            for replica, probe in zip([one, two] * 10, probes, strict=True)
            if probe is not None
        )
    )
    assert one.transitions("a", "closed") + two.transitions("a", "closed") == 1
    assert (await two.breakers.snapshot("a")).state is BreakerState.CLOSED


async def test_all_of_a_breaker_lives_in_one_expiring_hash_under_the_prefix(
    redis_client: aioredis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    store = RedisBreakerStore(redis_client, key_prefix=key_prefix, idle_ttl_seconds=600)
    breakers = CircuitBreakers(store, POLICY, clock)
    assert await breakers.acquire("gpt-4o@azure") is not None
    assert await redis_client.keys(f"{key_prefix}*") == []
    await fail(breakers, "gpt-4o@azure")
    keys = await redis_client.keys(f"{key_prefix}*")
    assert keys == [f"{key_prefix}cb:gpt-4o@azure".encode()]
    assert 590 < await redis_client.ttl(keys[0]) <= 600


async def test_keys_never_expire_before_the_policy_is_done_with_them(
    redis_client: aioredis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    store = RedisBreakerStore(redis_client, key_prefix=key_prefix, idle_ttl_seconds=1)
    breakers = CircuitBreakers(store, BreakerPolicy(probe_timeout_seconds=100), clock)
    await fail(breakers)
    assert await redis_client.ttl(store.key("a")) > 100


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def unreachable_client() -> AsyncIterator[aioredis.Redis]:
    """A client of a port where nothing listens, without client-side retries."""
    client = aioredis.Redis(
        port=unused_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    yield client
    await client.aclose()


async def test_an_unreachable_redis_lets_calls_through_and_counts_the_errors(
    unreachable_client: aioredis.Redis, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    store = RedisBreakerStore(unreachable_client, key_prefix="unused:")
    breakers = CircuitBreakers(
        store, POLICY, clock, BreakerMetrics(registry), store_retry_seconds=0
    )
    with caplog.at_level(logging.WARNING, logger="services.router.breaker"):
        permit = await breakers.acquire("a")
        assert permit is not None
        assert not permit.is_probe
        await breakers.record(Permit("a", epoch=0), False)
        await breakers.release(Permit("a", epoch=0, probe_id=1))
        assert (await breakers.snapshot("a")).state is BreakerState.CLOSED
    errors = {
        operation: registry.get_sample_value(
            "router_circuit_store_errors_total", {"operation": operation}
        )
        for operation in ("acquire", "record", "release", "snapshot")
    }
    assert errors == {"acquire": 1, "record": 1, "release": 1, "snapshot": 1}
    assert len(caplog.records) == 1
    assert "letting calls through" in caplog.records[0].getMessage()


async def test_store_warnings_repeat_only_after_the_interval(
    unreachable_client: aioredis.Redis, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisBreakerStore(unreachable_client, key_prefix="unused:")
    breakers = CircuitBreakers(
        store, POLICY, clock, warn_interval_seconds=60, store_retry_seconds=0
    )
    with caplog.at_level(logging.WARNING, logger="services.router.breaker"):
        await breakers.acquire("a")
        clock.advance(59)
        await breakers.acquire("a")
        clock.advance(1)
        await breakers.acquire("a")
    assert len(caplog.records) == 2


async def test_after_a_store_failure_the_store_is_left_alone_for_a_while(
    unreachable_client: aioredis.Redis, clock: FakeClock
) -> None:
    registry = CollectorRegistry()
    store = RedisBreakerStore(unreachable_client, key_prefix="unused:")
    breakers = CircuitBreakers(
        store, POLICY, clock, BreakerMetrics(registry), store_retry_seconds=1
    )
    first = await breakers.acquire("a")
    assert first is not None
    assert not first.tracked
    second = await breakers.acquire("a")
    assert second is not None
    assert not second.tracked
    await breakers.record(Permit("a", epoch=0), False)
    assert await breakers.snapshots(["a"]) == {"a": BreakerSnapshot(BreakerState.CLOSED)}
    errors = registry.get_sample_value
    labels = {"operation": "acquire"}
    assert errors("router_circuit_store_errors_total", labels) == 1
    assert errors("router_circuit_store_errors_total", {"operation": "record"}) is None
    assert errors("router_circuit_store_errors_total", {"operation": "snapshot"}) is None
    clock.advance(1)
    await breakers.acquire("a")
    assert errors("router_circuit_store_errors_total", labels) == 2


async def test_a_redis_that_never_answers_times_out_into_letting_calls_through(
    clock: FakeClock,
) -> None:
    async def accept_and_hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client disconnects
        writer.close()

    server = await asyncio.start_server(accept_and_hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis(port=port, retry=Retry(NoBackoff(), 0))
    try:
        store = RedisBreakerStore(client, key_prefix="unused:", timeout_seconds=0.05)
        permit = await CircuitBreakers(store, POLICY, clock).acquire("a")
        assert permit is not None
        assert not permit.tracked
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
