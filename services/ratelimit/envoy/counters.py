"""Where fixed-window counters live: one small protocol, and the in-memory store.

A store only adds hits and reports the new totals; every decision about limits is made by the
caller. That keeps the contract to what Redis does in one pipeline (INCRBY + EXPIRE per key),
so the memory store and the Redis store (`redis_counters`) are interchangeable and run the same
behaviour tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from services.ratelimit.windows import Clock


@dataclass(frozen=True)
class Increment:
    """Add `hits` (0 reads without consuming) to the counter `key`, which then lives `ttl` s."""

    key: str
    hits: int
    ttl: int


class CounterStore(Protocol):
    async def increment(self, increments: Sequence[Increment]) -> list[int]:
        """Apply every increment, returning each counter's value afterwards, in order.

        Each increment is atomic on its own; the batch is not a transaction (like a Redis
        pipeline without MULTI). Raises `BackendUnavailable` when the store cannot be reached.
        """
        ...


@dataclass
class _Counter:
    value: int
    expires_at: float


class MemoryCounterStore:
    """Counters in this process: the embedded default and the fast test double.

    Each `increment` call runs without awaiting between reading and writing a counter, so
    concurrent asyncio tasks never lose an update. It is meant for one event loop; replicas do
    not share it, so each replica enforces the full limit on its own.

    Expiry follows Redis: an expired counter restarts from 0, and every increment resets the
    time to live. Expired counters are swept at most once a second, so memory follows the
    number of live windows, not the number of keys ever seen.
    """

    def __init__(self, clock: Clock, *, sweep_interval: float = 1.0) -> None:
        self._clock = clock
        self._counters: dict[str, _Counter] = {}
        self._sweep_interval = sweep_interval
        self._next_sweep = 0.0

    async def increment(self, increments: Sequence[Increment]) -> list[int]:
        now = self._clock()
        self._sweep(now)
        return [self._add(item, now) for item in increments]

    def get(self, key: str) -> tuple[int, float] | None:
        """The live counter's value and expiry instant, or None; for inspection and tests."""
        counter = self._counters.get(key)
        if counter is None or counter.expires_at <= self._clock():
            return None
        return counter.value, counter.expires_at

    def keys(self) -> list[str]:
        """Keys of the live counters; for inspection and tests."""
        now = self._clock()
        return [key for key, counter in self._counters.items() if counter.expires_at > now]

    def __len__(self) -> int:
        """Counters held, expired ones not yet swept included."""
        return len(self._counters)

    def _add(self, item: Increment, now: float) -> int:
        counter = self._counters.get(item.key)
        if counter is None or counter.expires_at <= now:
            counter = self._counters[item.key] = _Counter(0, now)
        counter.value += item.hits
        counter.expires_at = now + item.ttl
        return counter.value

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_interval
        expired = [key for key, counter in self._counters.items() if counter.expires_at <= now]
        for key in expired:
            del self._counters[key]
