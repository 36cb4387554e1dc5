"""Reservations in memory: the embedded default (one process), with the semantics of
`reservations` (the behavioural suite runs against this and Redis). Every method runs without
awaiting in the middle, so under asyncio each is atomic."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.cost.budgets.reservations import (
    DEFAULT_SETTLED_GRACE_SECONDS,
    Charge,
    ReservationOutcome,
    ReservationRequest,
    Verdict,
    admits,
    bucket_key,
)


@dataclass(slots=True)
class _Bucket:
    live: dict[str, tuple[int, float]] = field(default_factory=dict)
    """request id -> (amount, expires at)"""
    settled: dict[str, tuple[int, int, float]] = field(default_factory=dict)
    """request id -> (charged nanos, seq, settled at), in seq order"""


@dataclass(frozen=True, slots=True)
class _Hold:
    keys: tuple[str, ...]
    amount: int
    expires: float


class MemoryReservations:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        settled_grace_seconds: float = DEFAULT_SETTLED_GRACE_SECONDS,
    ) -> None:
        self._clock = clock
        self._grace = settled_grace_seconds
        self._buckets: dict[str, _Bucket] = {}
        self._holds: dict[str, _Hold] = {}
        self._seq = 0
        self._floor = 0
        """The newest seq pruned from any bucket's settlements."""

    async def watermark(self) -> int:
        return self._seq

    async def check_and_reserve(self, request: ReservationRequest) -> ReservationOutcome:
        now = self._clock()
        buckets = [self._bucket(load.key, now) for load in request.loads]
        reserved = [self._counted(bucket, request.watermark) for bucket in buckets]
        hold = self._live_hold(request.request_id, now)
        if hold is not None:
            return ReservationOutcome(Verdict.DUPLICATE, hold.amount, reserved)
        if self._floor > request.watermark:
            return ReservationOutcome(Verdict.STALE, 0, reserved)
        amount = request.amount_nanos
        refused = [
            i for i, load in enumerate(request.loads) if not admits(load, reserved[i], amount)
        ]
        if refused:
            return ReservationOutcome(Verdict.REFUSED, 0, reserved, refused)
        if amount > 0 and buckets:
            self._reserve(request, now + request.ttl_seconds)
        return ReservationOutcome(Verdict.ADMITTED, amount, reserved)

    async def settle(self, request_id: str, charges: Sequence[Charge]) -> bool:
        now = self._clock()
        ended = self._end(request_id, now)
        if any(charge.nanos for charge in charges):
            self._seq += 1
            for charge in charges:
                bucket = self._buckets.setdefault(charge.key, _Bucket())
                bucket.settled.pop(request_id, None)
                bucket.settled[request_id] = (charge.nanos, self._seq, now)
        return ended

    async def release(self, request_id: str) -> bool:
        return self._end(request_id, self._clock())

    async def reserved_total(self, budget_id: str, period_start: datetime) -> int:
        bucket = self._bucket(bucket_key(budget_id, period_start), self._clock())
        return sum(amount for amount, _ in bucket.live.values())

    async def aclose(self) -> None:
        return None

    def _reserve(self, request: ReservationRequest, expires: float) -> None:
        keys = tuple(load.key for load in request.loads)
        for key in keys:
            bucket = self._buckets.setdefault(key, _Bucket())
            bucket.live[request.request_id] = (request.amount_nanos, expires)
        self._holds[request.request_id] = _Hold(keys, request.amount_nanos, expires)

    def _end(self, request_id: str, now: float) -> bool:
        hold = self._holds.pop(request_id, None)
        if hold is None:
            return False
        for key in hold.keys:
            if (bucket := self._buckets.get(key)) is not None:
                bucket.live.pop(request_id, None)
        return hold.expires > now

    def _live_hold(self, request_id: str, now: float) -> _Hold | None:
        hold = self._holds.get(request_id)
        if hold is not None and hold.expires <= now:
            self._end(request_id, now)
            return None
        return hold

    def _bucket(self, key: str, now: float) -> _Bucket:
        """The bucket, pruned; an empty one is dropped from the map (periods end)."""
        bucket = self._buckets.get(key) or _Bucket()
        for request_id, (_, expires) in list(bucket.live.items()):
            if expires <= now:
                del bucket.live[request_id]
        for request_id, (_, seq, settled_at) in list(bucket.settled.items()):
            if settled_at >= now - self._grace:
                break
            del bucket.settled[request_id]
            self._floor = max(self._floor, seq)
        if not bucket.live and not bucket.settled:
            self._buckets.pop(key, None)
        return bucket

    @staticmethod
    def _counted(bucket: _Bucket, watermark: int) -> int:
        live = sum(amount for amount, _ in bucket.live.values())
        return live + sum(nanos for nanos, seq, _ in bucket.settled.values() if seq > watermark)
