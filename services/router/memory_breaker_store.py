"""The embedded breaker store: breakers in this process' memory.

This is the reference implementation of the rules in `services.router.breaker`; the Redis
store's Lua scripts mirror it step for step, and one behavioural suite holds both to it. Each
method runs without awaiting, so on one event loop every transition is atomic. Breakers are
never evicted: there is one per catalogue deployment, a bounded set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.router.breaker import (
    BreakerPolicy,
    BreakerSnapshot,
    BreakerState,
    Permit,
    StoreResult,
)


@dataclass
class _Breaker:
    state: BreakerState = BreakerState.CLOSED
    epoch: int = 0
    retry_at: float = 0.0
    consecutive_failures: int = 0
    probe_successes: int = 0
    probe_seq: int = 0
    probes: dict[int, float] = field(default_factory=dict)
    """Live probe id -> expiry time."""
    buckets: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Window bucket index -> (calls, failures)."""

    def move_to(self, state: BreakerState, policy: BreakerPolicy, now: float) -> None:
        """A new epoch in `state`, with no window, streak or probes left from the last one."""
        self.state = state
        self.epoch += 1
        self.retry_at = now + policy.open_seconds if state is BreakerState.OPEN else 0.0
        self.consecutive_failures = 0
        self.probe_successes = 0
        self.probe_seq = 0
        self.probes = {}
        self.buckets = {}

    def live_probe_expiries(self, now: float) -> list[float]:
        return [expiry for expiry in self.probes.values() if expiry > now]

    def snapshot(self, policy: BreakerPolicy, now: float) -> BreakerSnapshot:
        if self.state is BreakerState.OPEN:
            return BreakerSnapshot(self.state, self.retry_at)
        if self.state is BreakerState.HALF_OPEN:
            live = self.live_probe_expiries(now)
            if len(live) >= policy.half_open_max_probes:
                return BreakerSnapshot(self.state, min(live))
        return BreakerSnapshot(self.state)


class MemoryBreakerStore:
    """`BreakerStore` in memory, for one process (the embedded mode and fast tests)."""

    def __init__(self) -> None:
        self._breakers: dict[str, _Breaker] = {}

    async def acquire(self, deployment: str, policy: BreakerPolicy, now: float) -> StoreResult:
        breaker = self._breakers.setdefault(deployment, _Breaker())
        if breaker.state is BreakerState.CLOSED:
            return StoreResult(breaker.snapshot(policy, now), Permit(deployment, breaker.epoch))
        moved = False
        if breaker.state is BreakerState.OPEN:
            if now < breaker.retry_at:
                return StoreResult(breaker.snapshot(policy, now))
            breaker.move_to(BreakerState.HALF_OPEN, policy, now)
            moved = True
        breaker.probes = {id_: exp for id_, exp in breaker.probes.items() if exp > now}
        permit = None
        if len(breaker.probes) < policy.half_open_max_probes:
            breaker.probe_seq += 1
            breaker.probes[breaker.probe_seq] = now + policy.probe_timeout_seconds
            permit = Permit(deployment, breaker.epoch, probe_id=breaker.probe_seq)
        return StoreResult(breaker.snapshot(policy, now), permit, moved)

    async def record(
        self, permit: Permit, success: bool, policy: BreakerPolicy, now: float
    ) -> StoreResult:
        breaker = self._breakers.setdefault(permit.deployment, _Breaker())
        moved = False
        if permit.epoch == breaker.epoch:
            if breaker.state is BreakerState.CLOSED:
                moved = _count_call(breaker, success, policy, now)
            elif breaker.state is BreakerState.HALF_OPEN and permit.probe_id is not None:
                moved = _count_probe(breaker, permit.probe_id, success, policy, now)
        return StoreResult(breaker.snapshot(policy, now), transitioned=moved)

    async def release(self, permit: Permit, policy: BreakerPolicy, now: float) -> StoreResult:
        breaker = self._breakers.setdefault(permit.deployment, _Breaker())
        current = permit.epoch == breaker.epoch and breaker.state is BreakerState.HALF_OPEN
        if current and permit.probe_id is not None:
            breaker.probes.pop(permit.probe_id, None)
        return StoreResult(breaker.snapshot(policy, now))

    async def snapshots(
        self, deployments: Sequence[str], policy: BreakerPolicy, now: float
    ) -> dict[str, BreakerSnapshot]:
        return {
            name: self._breakers.get(name, _Breaker()).snapshot(policy, now) for name in deployments
        }


def _count_call(breaker: _Breaker, success: bool, policy: BreakerPolicy, now: float) -> bool:
    """Counts a result while CLOSED; True when it opened the breaker."""
    bucket = math.floor(now / policy.bucket_seconds)
    calls, failures = breaker.buckets.get(bucket, (0, 0))
    breaker.buckets[bucket] = (calls + 1, failures + (0 if success else 1))
    breaker.consecutive_failures = 0 if success else breaker.consecutive_failures + 1
    oldest = bucket - policy.window_buckets + 1
    breaker.buckets = {i: counts for i, counts in breaker.buckets.items() if i >= oldest}
    total = sum(counts[0] for counts in breaker.buckets.values())
    failed = sum(counts[1] for counts in breaker.buckets.values())
    by_rate = total >= policy.min_calls and failed >= policy.failure_rate_threshold * total
    if by_rate or breaker.consecutive_failures >= policy.consecutive_failures:
        breaker.move_to(BreakerState.OPEN, policy, now)
        return True
    return False


def _count_probe(
    breaker: _Breaker, probe_id: int, success: bool, policy: BreakerPolicy, now: float
) -> bool:
    """Counts a probe's result while HALF_OPEN; True when it closed or reopened the breaker."""
    expiry = breaker.probes.pop(probe_id, None)
    if expiry is None or expiry <= now:
        return False
    if not success:
        breaker.move_to(BreakerState.OPEN, policy, now)
        return True
    breaker.probe_successes += 1
    if breaker.probe_successes >= policy.half_open_successes:
        breaker.move_to(BreakerState.CLOSED, policy, now)
        return True
    return False
