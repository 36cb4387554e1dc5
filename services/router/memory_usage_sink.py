"""The embedded usage sink: a bounded queue in this process, read by an in-process consumer.

The embedded cost service (or a test) takes events with `get()`, `subscribe()` or `drain()`.
The queue is the delivery point, as the stream is for Redis: `emitted_total` counts events
queued, and `flush` has nothing to wait for. When the queue is full the oldest event is dropped
(`dropped_total{reason="overflow"}`), so a stalled consumer costs memory up to the bound, then
history, never latency. Events emitted after `aclose` are dropped (`reason="closed"`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from services.router.usage_events import UsageEvent, UsageMetrics

DEFAULT_MAX_EVENTS = 100_000


class UsageSinkClosed(Exception):
    """`get` on a closed sink with nothing left to take."""


class MemoryUsageSink:
    def __init__(self, metrics: UsageMetrics, *, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self._metrics = metrics
        self._max_events = max_events
        self._events: deque[UsageEvent] = deque()
        self._arrived = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._events)

    def emit(self, event: UsageEvent) -> None:
        if self._closed:
            self._metrics.dropped.labels("closed").inc()
            return
        if len(self._events) >= self._max_events:
            self._events.popleft()
            self._metrics.dropped.labels("overflow").inc()
        self._events.append(event)
        self._metrics.emitted.inc()
        self._arrived.set()

    def drain(self) -> list[UsageEvent]:
        """Every queued event, oldest first; the queue is empty afterwards."""
        events = list(self._events)
        self._events.clear()
        return events

    async def get(self) -> UsageEvent:
        """The oldest event, waiting for one; `UsageSinkClosed` once closed and empty."""
        while not self._events:
            if self._closed:
                raise UsageSinkClosed("the usage sink is closed")
            self._arrived.clear()
            await self._arrived.wait()
        return self._events.popleft()

    async def subscribe(self) -> AsyncIterator[UsageEvent]:
        """Events as they come, until the sink is closed and every event was taken."""
        while True:
            try:
                yield await self.get()
            except UsageSinkClosed:
                return

    async def flush(self, timeout: float) -> None:  # noqa: ASYNC109  (see UsageSink.flush)
        """Nothing to wait for: a queued event is delivered."""

    async def aclose(self) -> None:
        self._closed = True
        self._arrived.set()
