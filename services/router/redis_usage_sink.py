"""The production usage sink: events appended to a Redis Stream, in batches, in the background.

`emit` only appends to a bounded buffer in memory and wakes one writer task; the call being
answered never waits for Redis. The writer takes up to `batch_size` events at a time and sends
them as `XADD {stream} MAXLEN ~ {max_stream_length} * ...` commands in one pipeline (one round
trip per batch; under load batches grow to the backlog). The stream format is documented in
`usage_events`.

Failure: when a write fails (Redis down, a timeout, a failover), the batch goes back to the
front of the buffer and the writer retries after an exponential backoff with jitter (from an
injected `random.Random`), so a Redis outage loses nothing as long as the buffer has room. Past
`buffer_size` the oldest events are dropped and counted (`router_usage_events_dropped_total`).
A batch whose write reached Redis but whose reply was lost is written again: delivery is at
least once, which is why the consumer dedupes on `request_id`. Failures are counted and logged at
most once per `warn_interval_seconds`.

Order: events leave in the order they were emitted, so the stream holds each emitter's events
in its order. `MAXLEN ~` keeps the stream bounded cheaply (Redis trims whole nodes, so the length
may exceed the cap a little); size the cap well above what the consumer can fall behind by.

Shutdown: `flush(timeout)` retries at once and waits until the buffer is empty (or the timeout);
`aclose()` flushes, stops the writer, and counts what could not be written as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.router.usage_events import UsageEvent, UsageMetrics

DEFAULT_KEY_PREFIX = "switchboard:router:"


def usage_stream(key_prefix: str = DEFAULT_KEY_PREFIX) -> str:
    """The stream's name under a key prefix: `{key_prefix}usage`."""
    return f"{key_prefix}usage"


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


@dataclass(frozen=True, slots=True)
class StreamSettings:
    stream: str = usage_stream()
    max_stream_length: int = 1_000_000
    """Approximate cap of the stream (`MAXLEN ~`)."""
    buffer_size: int = 100_000
    """Events kept in memory while Redis is slow or away; past it the oldest are dropped."""
    batch_size: int = 500

    def __post_init__(self) -> None:
        if min(self.max_stream_length, self.buffer_size, self.batch_size) < 1:
            raise ValueError("stream length, buffer size and batch size must be at least 1")


class RedisUsageSink:
    def __init__(
        self,
        client: aioredis.Redis,
        metrics: UsageMetrics,
        settings: StreamSettings = StreamSettings(),
        *,
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
        warn_interval_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._settings = settings
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
            size = min(self._settings.batch_size, len(self._buffer))
            self._in_flight = [self._buffer.popleft() for _ in range(size)]
            try:
                await self._write(self._in_flight)
            except (RedisError, OSError) as exc:
                failures += 1
                self._give_back()
                self._failed(exc)
                await self._pause(self._backoff.delay(failures, self._rng))
                continue
            except BaseException:
                self._give_back()  # cancelled mid-write: keep the batch for aclose to count
                raise
            self._metrics.emitted.inc(len(self._in_flight))
            self._in_flight = []
            failures = 0

    async def _write(self, batch: list[UsageEvent]) -> None:
        settings = self._settings
        async with self._client.pipeline(transaction=False) as pipe:
            for event in batch:
                pipe.xadd(
                    settings.stream,
                    event.to_fields(),  # type: ignore[arg-type]  # dict[str, str] is what it takes
                    maxlen=settings.max_stream_length,
                    approximate=True,
                )
            await pipe.execute()

    def _give_back(self) -> None:
        self._buffer.extendleft(reversed(self._in_flight))
        self._in_flight = []
        self._trim()

    def _trim(self) -> None:
        while len(self._buffer) > self._settings.buffer_size:
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
