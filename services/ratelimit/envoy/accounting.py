"""How one counted descriptor's new total becomes a status, and what it adds to the stats.

This is envoyproxy/ratelimit's base limiter arithmetic, kept exact because dashboards and
alerts are built on it. With `before`/`after` the counter around this request's hits:

- OK (`after <= limit`): `within_limit += hits`; past the near threshold
  (`floor(limit * NEAR_LIMIT_RATIO)`, in float32 like the reference), `near_limit` gets the
  hits that landed above it.
- OVER (`after > limit`): `over_limit` gets the hits above the limit; the hits between the near
  threshold and the limit still count as `near_limit`.
- A key the local cache already knows is over: all hits are `over_limit` and
  `over_limit_with_local_cache`.
- Shadow mode: the status turns OK, and `shadow_mode` counts the hits that would have been
  refused.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from enum import IntEnum

from services.ratelimit.envoy.rules import UINT32_MAX, RateLimit, Rule
from services.ratelimit.envoy.stats import EnvoyStats, RuleStat
from services.ratelimit.windows import Window


class Code(IntEnum):
    """`RateLimitResponse.Code`, by wire value."""

    UNKNOWN = 0
    OK = 1
    OVER_LIMIT = 2


@dataclass(frozen=True)
class DescriptorStatus:
    """One descriptor's answer; a status without `current_limit` has no reset time either."""

    code: Code
    current_limit: RateLimit | None = None
    limit_remaining: int = 0
    seconds_until_reset: int | None = None


NO_LIMIT = DescriptorStatus(Code.OK)
"""Nothing limits the descriptor (unmatched, whitelisted, replaced, unknown domain)."""

UNLIMITED = DescriptorStatus(Code.OK, limit_remaining=UINT32_MAX)
"""The descriptor matched an `unlimited: true` rule."""


@dataclass(frozen=True)
class Counted:
    """A descriptor that counts against a limit in this request."""

    rule: Rule
    limit: RateLimit
    stats_key: str
    key: str
    hits: int
    window: Window


@dataclass(frozen=True)
class Judgement:
    status: DescriptorStatus
    over_limit: bool
    """Over the limit before shadow mode rewrote the status; decides the local cache."""


@functools.lru_cache(maxsize=4096)  # per limit and ratio, asked for every counted descriptor
def near_threshold(limit: int, ratio: float) -> int:
    """`floor(float32(limit) * float32(ratio))`, the reference's float32 arithmetic."""
    return math.floor(_float32(_float32(limit) * _float32(ratio)))


def judge(
    counted: Counted, after: int | None, *, stats: EnvoyStats, ratio: float, now: float
) -> Judgement:
    """The status of `counted` given the counter's new value (None: known over locally)."""
    limit = counted.limit.requests_per_unit
    reset = counted.window.seconds_left(now)
    if after is None:
        _add(stats, counted, RuleStat.OVER_LIMIT, counted.hits)
        _add(stats, counted, RuleStat.OVER_LIMIT_WITH_LOCAL_CACHE, counted.hits)
        over = DescriptorStatus(Code.OVER_LIMIT, counted.limit, 0, reset)
        return _shadowed(counted, Judgement(over, True), stats, counted.hits)
    before = after - counted.hits
    near = near_threshold(limit, ratio)
    if after > limit:
        _count_over(stats, counted, before, after, near)
        over = DescriptorStatus(Code.OVER_LIMIT, counted.limit, 0, reset)
        refused = counted.hits if before >= limit else after - limit
        return _shadowed(counted, Judgement(over, True), stats, refused)
    _add(stats, counted, RuleStat.WITHIN_LIMIT, counted.hits)
    if after > near:
        _add(stats, counted, RuleStat.NEAR_LIMIT, counted.hits if before >= near else after - near)
    ok = DescriptorStatus(Code.OK, counted.limit, limit - after, reset)
    return Judgement(ok, False)


def _count_over(stats: EnvoyStats, counted: Counted, before: int, after: int, near: int) -> None:
    limit = counted.limit.requests_per_unit
    if before >= limit:
        _add(stats, counted, RuleStat.OVER_LIMIT, counted.hits)
        return
    _add(stats, counted, RuleStat.OVER_LIMIT, after - limit)
    _add(stats, counted, RuleStat.NEAR_LIMIT, limit - max(near, before))


def _shadowed(counted: Counted, judgement: Judgement, stats: EnvoyStats, refused: int) -> Judgement:
    """Shadow-mode rules count as usual but never refuse: the status becomes OK."""
    if not counted.rule.shadow_mode:
        return judgement
    _add(stats, counted, RuleStat.SHADOW_MODE, refused)
    status = DescriptorStatus(
        Code.OK,
        judgement.status.current_limit,
        judgement.status.limit_remaining,
        judgement.status.seconds_until_reset,
    )
    return Judgement(status, judgement.over_limit)


def _add(stats: EnvoyStats, counted: Counted, stat: RuleStat, amount: int) -> None:
    stats.add_hits(counted.stats_key, stat, amount)


def _float32(value: float) -> float:
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result
