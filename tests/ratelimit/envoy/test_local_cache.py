"""The local over-limit cache: TTL and entry bound."""

from __future__ import annotations

import pytest

from services.ratelimit.envoy.local_cache import LocalOverLimitCache

from .harness import FakeClock


def test_keys_expire_after_their_ttl() -> None:
    clock = FakeClock(100)
    cache = LocalOverLimitCache(10, clock)
    cache.add("k", 60)
    assert "k" in cache
    clock.now = 159.9
    assert "k" in cache
    clock.now = 160
    assert "k" not in cache
    assert 42 not in cache


def test_full_cache_drops_expired_then_soonest_expiring() -> None:
    clock = FakeClock(0)
    cache = LocalOverLimitCache(2, clock)
    cache.add("short", 10)
    cache.add("long", 100)
    cache.add("newest", 50)
    assert "short" not in cache
    assert {"long", "newest"} == {k for k in ("long", "newest") if k in cache}
    clock.now = 60
    cache.add("after", 10)
    assert len(cache) == 2
    assert "newest" not in cache
    assert "long" in cache
    assert "after" in cache


def test_re_adding_keys_keeps_memory_bounded() -> None:
    clock = FakeClock(0)
    cache = LocalOverLimitCache(3, clock)
    for step in range(100):
        clock.now = step
        cache.add("same", 1000)
    assert len(cache) == 1
    assert len(cache._heap) <= 6
    assert "same" in cache


def test_an_outdated_expiry_does_not_evict_a_re_added_key() -> None:
    clock = FakeClock(0)
    cache = LocalOverLimitCache(10, clock)
    cache.add("a", 10)
    clock.now = 5
    cache.add("a", 100)
    clock.now = 11
    cache.add("b", 10)
    assert "a" in cache


def test_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalOverLimitCache(0, FakeClock(0))
