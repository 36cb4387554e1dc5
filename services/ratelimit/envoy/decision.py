"""Envoy's `ShouldRateLimit`, decided: a request in, a decision out, with injected I/O and time.

Decisions are data: OVER_LIMIT is an answer in the returned `RateLimitDecision`. Only broken
requests and broken dependencies raise, and each raise is counted:

- bad input raises `InvalidArgument`; no config loaded yet raises `FailedPrecondition`
  (both count `service_error`, and nothing is counted against any limit);
- a counter store that cannot be reached raises `BackendUnavailable`, which reaches Envoy as
  UNAVAILABLE (counts `redis_error`). Envoy then applies its own `failure_mode_deny`: by default
  the request passes, with `failure_mode_deny: true` it is refused. The policy stays with the
  proxy operator, as with the reference server.

Counting happens in at most two round trips: one to the main store, and one to the per-second
store when one is configured and the request holds SECOND limits (reference REDIS_PERSECOND).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.envoy.accounting import (
    NO_LIMIT,
    UNLIMITED,
    Code,
    Counted,
    DescriptorStatus,
    Judgement,
    judge,
)
from services.ratelimit.envoy.cache_key import cache_key
from services.ratelimit.envoy.config import Node, RateLimitConfig
from services.ratelimit.envoy.counters import CounterStore, Increment
from services.ratelimit.envoy.local_cache import LocalOverLimitCache
from services.ratelimit.envoy.lookup import Match, find_limit
from services.ratelimit.envoy.options import EnvoyOptions
from services.ratelimit.envoy.request import Descriptor, RateLimitRequest, validate_request
from services.ratelimit.envoy.rules import RateLimit, Unit
from services.ratelimit.envoy.stats import EnvoyStats, RuleStat
from services.ratelimit.windows import Clock, Window
from svckit.errors import FailedPrecondition, ServiceError

NO_CONFIG = "no rate limit configuration loaded"

ConfigSource = Callable[[], RateLimitConfig | None]
"""Returns the config in force, or None before the first successful load."""


class JitterSource(Protocol):
    """Draws the expiry jitter; `random.Random` fits, tests pass a fixed draw."""

    def randrange(self, stop: int, /) -> int: ...


@dataclass(frozen=True)
class RateLimitDecision:
    """The answer to one request, mapped one to one onto `RateLimitResponse`."""

    overall_code: Code
    statuses: tuple[DescriptorStatus, ...]
    """Exactly one per request descriptor, in request order."""
    response_headers: tuple[tuple[str, str], ...] = ()


class RateLimitDecider:
    """Decides Envoy rate-limit requests against the config in force and a counter store."""

    def __init__(
        self,
        *,
        config: ConfigSource,
        store: CounterStore,
        stats: EnvoyStats,
        options: EnvoyOptions | None = None,
        clock: Clock = time.time,
        jitter: JitterSource | None = None,
        per_second_store: CounterStore | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._per_second_store = per_second_store
        self._stats = stats
        self._options = options or EnvoyOptions()
        self._clock = clock
        self._jitter = jitter or random.Random()
        size = self._options.local_cache_max_entries
        self._local_cache = LocalOverLimitCache(size, clock) if size > 0 else None

    async def decide(self, request: RateLimitRequest) -> RateLimitDecision:
        """Count the request's hits and say, per descriptor and overall, whether it may pass."""
        try:
            return await self._decide(request)
        except BackendUnavailable:
            self._stats.redis_error.inc()
            raise
        except ServiceError:
            self._stats.service_error.inc()
            raise

    async def _decide(self, request: RateLimitRequest) -> RateLimitDecision:
        validate_request(request)
        config = self._config()
        if config is None:
            raise FailedPrecondition(NO_CONFIG, reason="RATELIMIT_CONFIG_NOT_LOADED")
        root = config.domain(request.domain)
        if root is None:
            self._stats.domain_not_found(request.domain, len(request.descriptors))
            return RateLimitDecision(Code.OK, tuple(NO_LIMIT for _ in request.descriptors))
        now = self._clock()
        slots = self._plan(root, request, now)
        counts = await self._count(slots)
        judgements = [self._judge(slot, counts.get(index), now) for index, slot in enumerate(slots)]
        return self._finish(slots, judgements)

    def _plan(
        self, root: Node, request: RateLimitRequest, now: float
    ) -> list[Counted | DescriptorStatus]:
        """Per descriptor: what it counts against, or its fixed status if it counts nothing."""
        found = [find_limit(root, request.domain, d) for d in request.descriptors]
        slots: list[Counted | DescriptorStatus] = []
        for descriptor, match in zip(request.descriptors, _without_replaced(found), strict=True):
            if match is None:
                slots.append(NO_LIMIT)
            elif match.rule.limit is None:
                slots.append(UNLIMITED)
            else:
                slots.append(self._counted(request, descriptor, match, match.rule.limit, now))
        return slots

    def _counted(
        self,
        request: RateLimitRequest,
        descriptor: Descriptor,
        match: Match,
        limit: RateLimit,
        now: float,
    ) -> Counted:
        window = Window.containing(now, limit.unit.seconds)
        prefix = self._options.cache_key_prefix
        key = cache_key(
            prefix, request.domain, descriptor.entries, match.shared_values, window.start
        )
        hits = request.hits_for(descriptor)
        self._stats.add_hits(match.stats_key, RuleStat.TOTAL_HITS, hits)
        return Counted(match.rule, limit, match.stats_key, key, hits, window)

    async def _count(self, slots: Sequence[Counted | DescriptorStatus]) -> dict[int, int]:
        """Counter values after this request, by slot index; keys the local cache knows skip."""
        if self._per_second_store is None:  # the usual deployment: one store, one round trip
            return await self._count_in(self._store, slots)
        batches: dict[int, tuple[CounterStore, list[tuple[int, Counted]]]] = {}
        for index, slot in enumerate(slots):
            if isinstance(slot, Counted) and not self._known_over(slot):
                store = self._store_for(slot)
                batches.setdefault(id(store), (store, []))[1].append((index, slot))
        values: dict[int, int] = {}
        for store, batch in batches.values():
            results = await store.increment([self._increment(counted) for _, counted in batch])
            values.update((index, value) for (index, _), value in zip(batch, results, strict=True))
        return values

    async def _count_in(
        self, store: CounterStore, slots: Sequence[Counted | DescriptorStatus]
    ) -> dict[int, int]:
        indexes: list[int] = []
        increments: list[Increment] = []
        for index, slot in enumerate(slots):
            if isinstance(slot, Counted) and not self._known_over(slot):
                indexes.append(index)
                increments.append(self._increment(slot))
        if not increments:
            return {}
        return dict(zip(indexes, await store.increment(increments), strict=True))

    def _known_over(self, counted: Counted) -> bool:
        return self._local_cache is not None and counted.key in self._local_cache

    def _store_for(self, counted: Counted) -> CounterStore:
        if self._per_second_store is not None and counted.limit.unit is Unit.SECOND:
            return self._per_second_store
        return self._store

    def _increment(self, counted: Counted) -> Increment:
        jitter_max = self._options.expiration_jitter_max_seconds
        jitter = self._jitter.randrange(jitter_max) if jitter_max > 0 else 0
        return Increment(counted.key, counted.hits, counted.window.length + jitter)

    def _judge(self, slot: Counted | DescriptorStatus, after: int | None, now: float) -> Judgement:
        """`after` is None for descriptors that skipped the store (no limit, or known over)."""
        if isinstance(slot, DescriptorStatus):
            return Judgement(slot, False)
        judgement = judge(
            slot, after, stats=self._stats, ratio=self._options.near_limit_ratio, now=now
        )
        if judgement.over_limit and after is not None and self._local_cache is not None:
            self._local_cache.add(slot.key, slot.window.length)
        return judgement

    def _finish(
        self, slots: Sequence[Counted | DescriptorStatus], judgements: Sequence[Judgement]
    ) -> RateLimitDecision:
        statuses = tuple(j.status for j in judgements)
        quota = [isinstance(s, Counted) and self._quota_mode(s) for s in slots]
        code = _overall_code(statuses, quota)
        headers = self._headers(statuses, quota) if self._options.response_headers_enabled else ()
        if code is Code.OVER_LIMIT and self._options.shadow_mode:
            code = Code.OK
            self._stats.global_shadow_mode.inc()
        return RateLimitDecision(code, statuses, headers)

    def _quota_mode(self, counted: Counted) -> bool:
        return self._options.quota_mode or counted.rule.quota_mode

    def _headers(
        self, statuses: Sequence[DescriptorStatus], quota: Sequence[bool]
    ) -> tuple[tuple[str, str], ...]:
        """`RateLimit-*` headers of the descriptor closest to its limit; any refusal wins."""
        closest = _closest(statuses, quota)
        if closest is None or closest.current_limit is None:
            return ()
        return (
            (self._options.header_limit, str(closest.current_limit.requests_per_unit)),
            (self._options.header_remaining, str(closest.limit_remaining)),
            (self._options.header_reset, str(closest.seconds_until_reset)),
        )


def _without_replaced(matches: list[Match | None]) -> list[Match | None]:
    """Drop limits named in another matched limit's `replaces`, for this request only."""
    replaced: set[str] = set()
    for match in matches:
        if match is not None:
            replaced |= match.rule.replaces
    return [
        None
        if match is not None and match.rule.limit is not None and match.rule.name in replaced
        else match
        for match in matches
    ]


def _overall_code(statuses: Sequence[DescriptorStatus], quota: Sequence[bool]) -> Code:
    """OVER_LIMIT if a normal descriptor is over, or every quota-mode descriptor is."""
    over = [status.code is Code.OVER_LIMIT for status in statuses]
    if any(o and not q for o, q in zip(over, quota, strict=True)):
        return Code.OVER_LIMIT
    quota_over = [o for o, q, s in zip(over, quota, statuses, strict=True) if q and s.current_limit]
    return Code.OVER_LIMIT if quota_over and all(quota_over) else Code.OK


def _closest(
    statuses: Sequence[DescriptorStatus], quota: Sequence[bool]
) -> DescriptorStatus | None:
    chosen: DescriptorStatus | None = None
    for status, is_quota in zip(statuses, quota, strict=True):
        if status.current_limit is None:
            continue
        if chosen is None or status.limit_remaining < chosen.limit_remaining:
            chosen = status
        if status.code is Code.OVER_LIMIT and not is_quota:
            chosen = status
    return chosen
