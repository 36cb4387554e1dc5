"""The embedded response cache: an LRU of completions in this process, with a TTL.

Bounded by the number of entries: when full, the least recently used entry (read or written)
goes. Expiry is checked on read against an injected clock (monotonic by default), so an expired
entry is a miss at once and its slot is freed then; an expired entry nobody reads is evicted by
the LRU in due course. Completions are frozen, so a hit is shared, not copied.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from services.router.chat import Completion

DEFAULT_MAX_ENTRIES = 10_000


class MemoryResponseCache:
    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Completion]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> Completion | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, completion = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return completion

    async def put(self, key: str, completion: Completion, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return
        self._entries[key] = (self._clock() + ttl_seconds, completion)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
