"""Overrides seen through the cache: at once on the replica that set them, from the second
check on the others (the version signal), after the TTL if the signal is missed; expiry stays
exact. Runs against both stores, like the rest of the quota suite."""

from __future__ import annotations

import dataclasses
import json

import redis.asyncio as aioredis

from services.ratelimit.limiter import Limiter
from services.ratelimit.overrides import Override
from services.ratelimit.quota_store import QuotaStore
from services.ratelimit.redis_quota_store import RedisQuotaStore
from services.ratelimit.subjects import QuotaSubject
from services.ratelimit.tiers import TierCatalog

from .fake_clock import FakeClock

SUBJECT = [QuotaSubject("keys/cached", "daily")]


def _replica(store: QuotaStore, tiers: TierCatalog, clock: FakeClock) -> Limiter:
    return Limiter(store, tiers, clock=clock, override_cache_seconds=1.0)


async def _daily_limit(limiter: Limiter) -> int:
    result = await limiter.check(SUBJECT, "", 0)
    return result.limits[0].limit


async def test_the_replica_that_sets_an_override_applies_it_at_once(
    quota_store: QuotaStore, tiers: TierCatalog, fake_clock: FakeClock
) -> None:
    limiter = _replica(quota_store, tiers, fake_clock)
    assert await _daily_limit(limiter) == 2
    await limiter.set_override(Override("keys/cached", requests_per_day=50))
    assert await _daily_limit(limiter) == 50
    await limiter.delete_override("keys/cached")
    assert await _daily_limit(limiter) == 2


async def test_other_replicas_apply_a_change_from_their_second_check(
    quota_store: QuotaStore, tiers: TierCatalog, fake_clock: FakeClock
) -> None:
    one, other = _replica(quota_store, tiers, fake_clock), _replica(quota_store, tiers, fake_clock)
    assert await _daily_limit(other) == 2
    assert await _daily_limit(other) == 2  # cached now
    await one.set_override(Override("keys/cached", requests_per_day=50))
    await _daily_limit(other)  # decided on the cached value, but sees the version move
    assert await _daily_limit(other) == 50
    await one.delete_override("keys/cached")
    await _daily_limit(other)
    assert await _daily_limit(other) == 2


async def test_a_missed_change_is_picked_up_after_the_ttl(
    redis_client: aioredis.Redis, key_prefix: str, tiers: TierCatalog, fake_clock: FakeClock
) -> None:
    store = RedisQuotaStore(redis_client, key_prefix=key_prefix)
    limiter = _replica(store, tiers, fake_clock)
    assert await _daily_limit(limiter) == 2
    assert await _daily_limit(limiter) == 2  # the first check learnt the version; now cached
    # Written behind the service's back: no version change signals it.
    payload = json.dumps(dataclasses.asdict(Override("keys/cached", requests_per_day=50)))
    await redis_client.set(f"{key_prefix}o|keys/cached", payload)
    assert await _daily_limit(limiter) == 2
    fake_clock.advance(1.5)
    assert await _daily_limit(limiter) == 50


async def test_a_cached_override_still_expires_on_time(
    quota_store: QuotaStore, tiers: TierCatalog, fake_clock: FakeClock
) -> None:
    limiter = _replica(quota_store, tiers, fake_clock)
    expiring = Override("keys/cached", requests_per_day=50, expire_time=fake_clock.now + 0.5)
    await limiter.set_override(expiring)
    assert await _daily_limit(limiter) == 50
    fake_clock.advance(0.6)
    assert await _daily_limit(limiter) == 2
