"""Test doubles and builders shared by the Envoy API tests: a settable clock, a fixed jitter
draw, request builders, and one view over both counter stores' real state."""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from services.ratelimit.envoy.config import ConfigFile, RateLimitConfig, load_config
from services.ratelimit.envoy.counters import CounterStore, Increment, MemoryCounterStore
from services.ratelimit.envoy.decision import RateLimitDecider
from services.ratelimit.envoy.options import EnvoyOptions
from services.ratelimit.envoy.redis_counters import RedisCounterStore
from services.ratelimit.envoy.request import Descriptor, Entry, Override, RateLimitRequest
from services.ratelimit.envoy.stats import EnvoyStats


class FakeClock:
    """Seconds since the epoch, set by the test."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FixedJitter:
    """A jitter source whose every draw is `draw`; remembers the bounds it was asked for."""

    draw: int
    stops: list[int] = field(default_factory=list)

    def randrange(self, stop: int, /) -> int:
        self.stops.append(stop)
        return self.draw


def options(**overrides: Any) -> EnvoyOptions:
    """The conformance defaults: reference options, but no expiry jitter."""
    return EnvoyOptions(**{"expiration_jitter_max_seconds": 0, **overrides})


def make_decider(
    config: RateLimitConfig | None,
    store: CounterStore,
    stats: EnvoyStats,
    clock: FakeClock,
    *,
    settings: EnvoyOptions | None = None,
    jitter: FixedJitter | None = None,
    per_second_store: CounterStore | None = None,
) -> RateLimitDecider:
    return RateLimitDecider(
        config=lambda: config,
        store=store,
        stats=stats,
        options=settings or options(),
        clock=clock,
        jitter=jitter or FixedJitter(0),
        per_second_store=per_second_store,
    )


def config_from(text: str, name: str = "test.yaml") -> RateLimitConfig:
    return load_config([ConfigFile(name, text)])


def descriptor(
    *pairs: tuple[str, str], hits: int | None = None, override: Override | None = None
) -> Descriptor:
    return Descriptor(tuple(Entry(k, v) for k, v in pairs), override=override, hits_addend=hits)


def request(domain: str, *descriptors: Descriptor, hits_addend: int = 0) -> RateLimitRequest:
    return RateLimitRequest(domain, tuple(descriptors), hits_addend)


class CountingStore:
    """Delegates to a real store and records every batch it was sent."""

    def __init__(self, inner: CounterStore) -> None:
        self.inner = inner
        self.batches: list[list[Increment]] = []

    async def increment(self, increments: Sequence[Increment]) -> list[int]:
        self.batches.append(list(increments))
        return await self.inner.increment(increments)


class StoreView(abc.ABC):
    """A counter store plus read access to its real state (keys without the store prefix)."""

    kind: str
    store: CounterStore

    @abc.abstractmethod
    async def value(self, key: str) -> int | None: ...

    @abc.abstractmethod
    async def ttl(self, key: str) -> int | None: ...

    @abc.abstractmethod
    async def keys(self) -> set[str]: ...

    async def seed(self, key: str, count: int, ttl: int = 86_400) -> None:
        """Bring a counter to `count` through the store itself, as earlier requests would."""
        await self.store.increment([Increment(key, count, ttl)])


class MemoryView(StoreView):
    kind = "memory"

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.memory = MemoryCounterStore(clock)
        self.store = self.memory

    async def value(self, key: str) -> int | None:
        found = self.memory.get(key)
        return None if found is None else found[0]

    async def ttl(self, key: str) -> int | None:
        found = self.memory.get(key)
        return None if found is None else math.ceil(found[1] - self._clock())

    async def keys(self) -> set[str]:
        return set(self.memory.keys())


class RedisView(StoreView):
    kind = "redis"

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.store = RedisCounterStore(client, key_prefix=prefix)

    async def value(self, key: str) -> int | None:
        raw = await self.client.get(self.prefix + key)
        return None if raw is None else int(raw)

    async def ttl(self, key: str) -> int | None:
        millis = await self.client.pttl(self.prefix + key)
        return None if millis < 0 else math.ceil(millis / 1000)

    async def keys(self) -> set[str]:
        found = set()
        async for raw in self.client.scan_iter(match=f"{self.prefix}*", count=500):
            found.add(raw.decode()[len(self.prefix) :])
        return found
