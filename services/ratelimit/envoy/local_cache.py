"""Remembers counter keys already over their limit, to answer without a store round trip.

Once a window's counter is over its limit it stays over until the window ends, so asking the
store again only adds load at the worst moment (a client hammering past its limit). Keys embed
their window start, so an entry stops matching when the window rolls over; the TTL of one
window length only bounds how long a dead key occupies a slot.

Bounded by entry count: when full, the entry closest to expiring is dropped first after the
already expired ones, which keeps the keys most likely to be asked about again.
"""

from __future__ import annotations

import heapq

from services.ratelimit.windows import Clock


class LocalOverLimitCache:
    """A TTL set of over-limit keys holding at most `max_entries` keys."""

    def __init__(self, max_entries: int, clock: Clock) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        expires_at = self._expiry.get(key)
        return expires_at is not None and expires_at > self._clock()

    def __len__(self) -> int:
        return len(self._expiry)

    def add(self, key: str, ttl: int) -> None:
        """Remember `key` as over its limit for `ttl` seconds, evicting if the cache is full."""
        now = self._clock()
        self._drop_expired(now)
        if key not in self._expiry and len(self._expiry) >= self._max:
            self._drop_soonest()
        expires_at = now + ttl
        self._expiry[key] = expires_at
        heapq.heappush(self._heap, (expires_at, key))
        if len(self._heap) > 2 * self._max:
            self._compact()

    def _compact(self) -> None:
        """Drop heap rows of re-added keys so the heap stays proportional to the entries."""
        self._heap = [(expires_at, key) for key, expires_at in self._expiry.items()]
        heapq.heapify(self._heap)

    def _drop_expired(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            self._pop()

    def _drop_soonest(self) -> None:
        size = len(self._expiry)
        while self._heap and len(self._expiry) == size:
            self._pop()

    def _pop(self) -> None:
        expires_at, key = heapq.heappop(self._heap)
        if self._expiry.get(key) == expires_at:  # stale heap rows belong to re-added keys
            del self._expiry[key]
