"""The embedded quota store: counters, reservations and overrides in this process' memory.

It serves one replica (nothing is shared, nothing survives a restart), which is what the embedded
default and fast tests need. Each method runs to its end without awaiting anything, so on one
asyncio event loop every call is atomic: no other coroutine can run between the check and the
count. Entries expire at the times the limiter's clock gives them (window end, reservation and
override expiry) and are swept as later calls pass those times, so memory stays bounded by what
is live.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from services.ratelimit.limits import CounterKey, admits
from services.ratelimit.overrides import Override
from services.ratelimit.quota_store import (
    Admission,
    Reservation,
    ReservationState,
    SettledReservation,
    Settlement,
)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_NEVER = float("inf")


class _ExpiringMap(Generic[K, V]):
    """A dict whose entries vanish at their expire time, judged by the `now` of each call."""

    def __init__(self) -> None:
        self._items: dict[K, tuple[V, float]] = {}
        self._deadlines: list[tuple[float, int, K]] = []
        self._sequence = itertools.count()

    def get(self, key: K, now: float) -> V | None:
        item = self._items.get(key)
        if item is None or item[1] <= now:
            return None
        return item[0]

    def put(self, key: K, value: V, expire_time: float = _NEVER) -> None:
        previous = self._items.get(key)
        self._items[key] = (value, expire_time)
        if expire_time != _NEVER and (previous is None or previous[1] != expire_time):
            heapq.heappush(self._deadlines, (expire_time, next(self._sequence), key))

    def pop(self, key: K, now: float) -> V | None:
        value = self.get(key, now)
        self._items.pop(key, None)
        return value

    def live_keys(self, now: float) -> list[K]:
        return [key for key, (_, expire_time) in self._items.items() if expire_time > now]

    def sweep(self, now: float) -> None:
        """Forgets every entry whose time has come (a deadline may be stale: check it)."""
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, key = heapq.heappop(self._deadlines)
            item = self._items.get(key)
            if item is not None and item[1] <= now:
                del self._items[key]


@dataclass
class _Record:
    reservation: Reservation
    state: ReservationState = ReservationState.RESERVED
    actual_tokens: int | None = None

    def view(self) -> SettledReservation:
        return SettledReservation(self.state, self.reservation.tokens, self.actual_tokens)


class MemoryQuotaStore:
    """`QuotaStore` in memory, for one replica on one event loop."""

    def __init__(self) -> None:
        self._counters: _ExpiringMap[CounterKey, int] = _ExpiringMap()
        self._reservations: _ExpiringMap[str, _Record] = _ExpiringMap()
        self._overrides: _ExpiringMap[str, Override] = _ExpiringMap()
        self._overrides_version = 0

    async def admit(self, reservation: Reservation, now: float) -> Admission:
        self._sweep(now)
        counts = tuple(self._count(charge.counter, now) for charge in reservation.charges)
        charges = zip(reservation.charges, counts, strict=True)
        if not all(admits(count, charge.amount, charge.limit) for charge, count in charges):
            return Admission(False, counts, self._overrides_version)
        for charge, count in zip(reservation.charges, counts, strict=True):
            window_end = charge.counter.window.end
            self._counters.put(charge.counter, count + charge.amount, window_end)
        self._reservations.put(reservation.id, _Record(reservation), reservation.expire_time)
        return Admission(True, counts, self._overrides_version)

    async def counts(self, counters: Sequence[CounterKey], now: float) -> list[int]:
        self._sweep(now)
        return [self._count(counter, now) for counter in counters]

    async def settle(self, settlement: Settlement) -> SettledReservation | None:
        now = settlement.now
        self._sweep(now)
        record = self._reservations.get(settlement.reservation_id, now)
        if record is None:
            return None
        if record.state is ReservationState.RESERVED:
            self._apply(record.reservation, settlement.actual_tokens, now)
            record.actual_tokens = settlement.actual_tokens
            record.state = (
                ReservationState.RELEASED
                if settlement.actual_tokens is None
                else ReservationState.COMMITTED
            )
            self._reservations.put(settlement.reservation_id, record, settlement.remember_until)
        return record.view()

    async def reset(self, subject: str, now: float) -> int:
        self._sweep(now)
        doomed = [key for key in self._counters.live_keys(now) if key.subject == subject]
        for key in doomed:
            self._counters.pop(key, now)
        return len(doomed)

    async def put_override(self, override: Override, now: float) -> None:
        self._sweep(now)
        expire_time = _NEVER if override.expire_time is None else override.expire_time
        self._overrides.put(override.subject, override, expire_time)
        self._overrides_version += 1

    async def overrides(self, subjects: Sequence[str], now: float) -> list[Override | None]:
        self._sweep(now)
        return [self._overrides.get(subject, now) for subject in subjects]

    async def delete_override(self, subject: str, now: float) -> bool:
        self._sweep(now)
        self._overrides_version += 1
        return self._overrides.pop(subject, now) is not None

    def _count(self, counter: CounterKey, now: float) -> int:
        return self._counters.get(counter, now) or 0

    def _apply(self, reservation: Reservation, actual_tokens: int | None, now: float) -> None:
        """Commits (token charges move to `actual_tokens`) or releases (every charge returns)."""
        for charge in reservation.charges:
            if actual_tokens is None:
                delta = -charge.amount
            elif charge.counter.kind.counts_tokens:
                delta = actual_tokens - charge.amount
            else:
                continue
            count = self._counters.get(charge.counter, now)
            if count is not None:
                window_end = charge.counter.window.end
                self._counters.put(charge.counter, max(0, count + delta), window_end)

    def _sweep(self, now: float) -> None:
        self._counters.sweep(now)
        self._reservations.sweep(now)
        self._overrides.sweep(now)
