"""Overrides seen through the cache: at once on the replica that set them, within the TTL
elsewhere; expiry stays exact. Runs against both stores, like the rest of the quota suite."""

from __future__ import annotations

from services.ratelimit.limiter import Limiter
from services.ratelimit.overrides import Override
from services.ratelimit.quota_store import QuotaStore
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


async def test_other_replicas_see_a_change_within_the_ttl(
    quota_store: QuotaStore, tiers: TierCatalog, fake_clock: FakeClock
) -> None:
    one, other = _replica(quota_store, tiers, fake_clock), _replica(quota_store, tiers, fake_clock)
    assert await _daily_limit(other) == 2
    await one.set_override(Override("keys/cached", requests_per_day=50))
    assert await _daily_limit(other) == 2  # still within its cache TTL
    fake_clock.advance(1.5)
    assert await _daily_limit(other) == 50


async def test_a_cached_override_still_expires_on_time(
    quota_store: QuotaStore, tiers: TierCatalog, fake_clock: FakeClock
) -> None:
    limiter = _replica(quota_store, tiers, fake_clock)
    expiring = Override("keys/cached", requests_per_day=50, expire_time=fake_clock.now + 0.5)
    await limiter.set_override(expiring)
    assert await _daily_limit(limiter) == 50
    fake_clock.advance(0.6)
    assert await _daily_limit(limiter) == 2
