"""Fixtures of the quota tests: one behavioural suite, run against both stores.

`quota_store` is parametrized: every test that uses it (directly or through `limiter`) runs once
on `MemoryQuotaStore` and once on `RedisQuotaStore` under the test's own key prefix, so the two
implementations are held to the same behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from services.ratelimit.limiter import Limiter
from services.ratelimit.memory_quota_store import MemoryQuotaStore
from services.ratelimit.quota_store import QuotaStore
from services.ratelimit.redis_quota_store import RedisQuotaStore
from services.ratelimit.tiers import TierCatalog, parse_tiers

from .fake_clock import FakeClock, utc

NOON = utc(2025, 1, 6, 12, 0, 0)
"""A Monday at 12:00:00 UTC, the top of a minute; tests start here."""

RESERVATION_TTL = 600.0

TEST_TIERS = """
tiers:
  basic:
    requests_per_day: 5
    requests_per_minute: 3
    tokens_per_minute: 1000
    models:
      gpt-4o: {requests_per_minute: 2, tokens_per_minute: 500}
  daily:
    requests_per_day: 2
  tokens:
    tokens_per_minute: 1000
  blocked:
    requests_per_day: 0
  unlimited: {}
  bulk:
    requests_per_minute: 500
  bulk_tokens:
    tokens_per_minute: 50000
"""


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(NOON)


@pytest.fixture
def tiers() -> TierCatalog:
    return parse_tiers(TEST_TIERS, source="conftest")


@pytest.fixture(params=["memory", "redis"])
def quota_store(request: pytest.FixtureRequest, key_prefix: str) -> QuotaStore:
    if request.param == "memory":
        return MemoryQuotaStore()
    client: aioredis.Redis = request.getfixturevalue("redis_client")
    return RedisQuotaStore(client, key_prefix=key_prefix)


@pytest.fixture
def limiter(quota_store: QuotaStore, tiers: TierCatalog, fake_clock: FakeClock) -> Limiter:
    return Limiter(quota_store, tiers, clock=fake_clock, reservation_ttl=RESERVATION_TTL)


@pytest.fixture
def short_ttl_limiter(
    quota_store: QuotaStore, tiers: TierCatalog, fake_clock: FakeClock
) -> tuple[Limiter, FakeClock]:
    """A limiter whose reservations expire after 30 s, inside the minute they were made in."""
    return Limiter(quota_store, tiers, clock=fake_clock, reservation_ttl=30), fake_clock


@pytest.fixture
async def pooled_redis_client(redis_client: aioredis.Redis) -> AsyncIterator[aioredis.Redis]:
    """A client whose callers queue for one of 32 connections rather than fail when all are
    busy, as a service under load should be configured (`redis_client` cleans the keys up)."""
    kwargs = redis_client.connection_pool.connection_kwargs
    pool = aioredis.BlockingConnectionPool(
        host=kwargs.get("host", "127.0.0.1"),
        port=kwargs.get("port", 6379),
        db=kwargs.get("db", 0),
        max_connections=32,
        timeout=10,
    )
    client = aioredis.Redis(connection_pool=pool)
    yield client
    await client.aclose()
    await pool.disconnect()


@pytest.fixture(params=["memory", "redis"])
def busy_limiter(
    request: pytest.FixtureRequest, key_prefix: str, tiers: TierCatalog, fake_clock: FakeClock
) -> Limiter:
    """A limiter for many concurrent callers; on Redis through a pool of 32 connections."""
    store: QuotaStore = MemoryQuotaStore()
    if request.param == "redis":
        client: aioredis.Redis = request.getfixturevalue("pooled_redis_client")
        store = RedisQuotaStore(client, key_prefix=key_prefix)
    return Limiter(store, tiers, clock=fake_clock)
