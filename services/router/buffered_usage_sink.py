"""The buffering every usage sink that writes elsewhere shares: `emit` appends to a bounded
buffer in memory and wakes one writer task, so the call being answered never waits; the writer
sends up to `batch_size` events at a time through the subclass's `_write`.

Failure: when a write fails, the batch goes back to the front of the buffer and the writer
retries after an exponential backoff with jitter (from an injected `random.Random`), so an outage
loses nothing as long as the buffer has room. Past `buffer_size` the oldest events are dropped
and counted (`router_usage_events_dropped_total`). A batch whose write arrived but whose reply
was lost is written again: delivery is at least once, which is why consumers dedupe on
`request_id`. Failures are counted and logged at most once per `warn_interval_seconds`. Events
leave in the order they were emitted.

Shutdown: `flush(timeout)` retries at once and waits until the buffer is empty (or the timeout);
`aclose()` flushes, stops the writer, and counts what could not be written as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from services.router.usage_events import UsageEvent, UsageMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay after the n-th failure in a row: doubling from `initial_seconds` up to
    `max_seconds`, each drawn between half and all of that (so replicas do not retry in step)."""

    initial_seconds: float = 0.1
    max_seconds: float = 10.0

    def delay(self, failures: int, rng: random.Random) -> float:
        ceiling = min(self.max_seconds, self.initial_seconds * 2 ** max(failures - 1, 0))
        return rng.uniform(ceiling / 2, ceiling)


class BufferedUsageSink(ABC):
    """A bounded buffer of events and one background writer; subclasses say how to write."""

    def __init__(
        self,
        metrics: UsageMetrics,
        *,
        buffer_size: int,
        batch_size: int,
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
        warn_interval_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min(buffer_size, batch_size) < 1:
            raise ValueError("buffer size and batch size must be at least 1")
        self._metrics = metrics
        self._buffer_size = buffer_size
        self._batch_size = batch_size
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._warn_interval = warn_interval_seconds
        self._clock = clock
        self._last_warning: float | None = None
        self._buffer: deque[UsageEvent] = deque()
        self._in_flight: list[UsageEvent] = []
        self._wake = asyncio.Event()
        self._retry_now = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        """Events not yet written: buffered or on their way."""
        return len(self._buffer) + len(self._in_flight)

    def emit(self, event: UsageEvent) -> None:
        if self._closed:
            self._metrics.dropped.labels("closed").inc()
            return
        self._buffer.append(event)
        self._trim()
        self._idle.clear()
        self._wake.set()
        self._start_writer()

    async def flush(self, timeout: float) -> None:  # noqa: ASYNC109  (see UsageSink.flush)
        if self.pending == 0:
            return
        self._start_writer()
        self._retry_now.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("usage events not yet written after %gs: %d", timeout, self.pending)

    async def aclose(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await self.flush(timeout)
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)
        if self._buffer:
            self._metrics.dropped.labels("closed").inc(len(self._buffer))
            self._buffer.clear()

    def _start_writer(self) -> None:
        if self._closed or (self._writer is not None and not self._writer.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: the events wait in the buffer for the first emit or flush in one
        self._writer = loop.create_task(self._write_forever(), name="usage-events-writer")

    async def _write_forever(self) -> None:
        failures = 0
        while True:
            if not self._buffer:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            size = min(self._batch_size, len(self._buffer))
            self._in_flight = [self._buffer.popleft() for _ in range(size)]
            try:
                delivered = await self._write(self._in_flight)
            except Exception as exc:  # the destination is away or refused: keep and retry
                failures += 1
                self._give_back()
                self._failed(exc)
                await self._pause(self._backoff.delay(failures, self._rng))
                continue
            except BaseException:
                self._give_back()  # cancelled mid-write: keep the batch for aclose to count
                raise
            self._metrics.emitted.inc(delivered)
            self._in_flight = []
            failures = 0

    @abstractmethod
    async def _write(self, batch: list[UsageEvent]) -> int:
        """Deliver `batch`; return how many were delivered (the rest were refused for good
        and counted as dropped). Raise to have the batch kept and retried."""

    def _give_back(self) -> None:
        self._buffer.extendleft(reversed(self._in_flight))
        self._in_flight = []
        self._trim()

    def _trim(self) -> None:
        while len(self._buffer) > self._buffer_size:
            self._buffer.popleft()
            self._metrics.dropped.labels("overflow").inc()

    async def _pause(self, seconds: float) -> None:
        """Sleep before a retry; a `flush` cuts it short (shutdown should not wait a backoff)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._retry_now.wait(), seconds)
        self._retry_now.clear()

    def _failed(self, exc: BaseException) -> None:
        self._metrics.write_failures.inc()
        now = self._clock()
        if self._last_warning is None or now - self._last_warning >= self._warn_interval:
            self._last_warning = now
            log.warning(
                "usage events not written, retrying (%d waiting): %s: %s",
                self.pending,
                type(exc).__name__,
                exc,
            )
