"""Changes delivered to watchers: this replica's at once, other replicas' within a poll.

Choice: every replica polls the shared change log (`change_log`) by sequence, rather than
PostgreSQL LISTEN/NOTIFY. The log works the same on SQLite and PostgreSQL, lets a watcher that
lost its stream resume exactly where it stopped (the changes since are replayed from the
table), and cannot lose a change while a connection is down, which notifications can (they
are not queued for a listener that is not connected, and a dedicated listening connection per
replica would be one more thing to keep alive). The price is latency across replicas: a change
written through another replica reaches this one's watchers within `PROMPTS_CHANGE_POLL_SECONDS`
(0.5 s by default; a poll is one indexed range query). A write through this replica wakes the
poller at once after its commit, so its own watchers hear of it in milliseconds. Changes reach
watchers only from the poller, in sequence order, so a watcher never sees them out of order.

Each watcher has a bounded backlog (`PROMPTS_WATCH_QUEUE_SIZE` changes): one that falls that
far behind is cut off with RESOURCE_EXHAUSTED and resumes from its last sequence, and the feed
never blocks or grows for a slow reader. Entries older than `PROMPTS_CHANGE_RETENTION_SECONDS`
are trimmed (as a prefix of the log, keeping the newest), every few minutes, by every replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from types import TracebackType

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.prompts import change_log
from services.prompts.database import Database
from services.prompts.model import Change
from svckit.errors import ResourceExhausted

log = logging.getLogger(__name__)

READ_BATCH = 1000
TRIM_EVERY_SECONDS = 300.0


class FeedMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.watchers = Gauge(
            "prompts_watchers", "WatchPromptChanges streams open.", registry=registry
        )
        self.delivered = Counter(
            "prompts_changes_read_total", "Changes read from the change log.", registry=registry
        )
        self.poll_errors = Counter(
            "prompts_change_poll_errors_total",
            "Polls of the change log that failed.",
            registry=registry,
        )
        self.dropped = Counter(
            "prompts_watchers_dropped_total",
            "Watchers cut off for falling behind.",
            registry=registry,
        )


class Subscription:
    """Batches of changes after `position` for names starting with `prefix`, as they are read;
    an async iterator of lists of changes. Close it (or use `async with`) when done."""

    def __init__(self, feed: ChangeFeed, prefix: str, position: int, capacity: int) -> None:
        self.prefix = prefix
        self.position = position
        self._feed = feed
        self._capacity = capacity
        self._pending = 0
        self._queue: asyncio.Queue[list[Change] | None] = asyncio.Queue()
        self._overflowed = False
        self._closed = False

    def offer(self, batch: list[Change]) -> None:
        if self._closed:
            return
        mine = [c for c in batch if c.name.startswith(self.prefix)]
        if not mine:
            return
        if self._pending + len(mine) > self._capacity:
            self._overflowed = True
            self._feed.metrics.dropped.inc()
            self.close()
            return
        self._pending += len(mine)
        self._queue.put_nowait(mine)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._feed.unsubscribe(self)
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[list[Change]]:
        return self

    async def __anext__(self) -> list[Change]:
        item = await self._queue.get()
        if item is not None:
            self._pending -= len(item)
            return item
        self._queue.put_nowait(None)  # later calls end too
        if self._overflowed:
            raise ResourceExhausted(
                "change watcher fell behind; resume from the last sequence seen",
                reason="WATCHER_TOO_SLOW",
            )
        raise StopAsyncIteration

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ChangeFeed:
    def __init__(
        self,
        db: Database,
        *,
        poll_seconds: float,
        retention_seconds: float,
        queue_size: int,
        now: Callable[[], datetime],
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.position = 0
        self.metrics = FeedMetrics(registry or CollectorRegistry())
        self._db = db
        self._poll_seconds = poll_seconds
        self._retention = timedelta(seconds=retention_seconds)
        self._queue_size = queue_size
        self._now = now
        self._subscribers: set[Subscription] = set()
        self._kicked = asyncio.Event()
        self._polling = asyncio.Lock()
        self._polls_per_trim = max(1, round(TRIM_EVERY_SECONDS / poll_seconds))

    async def start(self) -> None:
        """Start from the log's current end: watchers get changes from now on."""
        async with self._db.read() as conn:
            self.position = await change_log.head(conn)

    def kick(self) -> None:
        """A write of this process committed: poll now rather than at the next interval."""
        self._kicked.set()

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and retried at the next interval."""
        polls = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kicked.wait(), timeout=self._poll_seconds)
            self._kicked.clear()
            polls += 1
            try:
                await self.poll_once()
                if polls % self._polls_per_trim == 0:
                    await self.trim()
            except Exception as exc:  # the database may be briefly away; keep following
                self.metrics.poll_errors.inc()
                log.warning("reading the change log failed: %s", type(exc).__name__)

    async def poll_once(self) -> int:
        """Deliver every change after `position`; returns how many. Polls take turns, so a
        change is delivered once whoever polls."""
        async with self._polling:
            return await self._poll()

    async def _poll(self) -> int:
        delivered = 0
        while True:
            async with self._db.read() as conn:
                batch = await change_log.read_after(conn, self.position, limit=READ_BATCH)
            if not batch:
                return delivered
            self.position = batch[-1].sequence
            for subscription in list(self._subscribers):
                subscription.offer(batch)
            delivered += len(batch)
            self.metrics.delivered.inc(len(batch))
            if len(batch) < READ_BATCH:
                return delivered

    async def trim(self) -> int:
        async with self._db.write() as conn:
            return await change_log.trim(conn, self._now() - self._retention)

    def subscribe(self, prefix: str = "") -> Subscription:
        """Changes from now on (after `position`); see `replay` for earlier ones."""
        subscription = Subscription(self, prefix, self.position, self._queue_size)
        self._subscribers.add(subscription)
        self.metrics.watchers.set(len(self._subscribers))
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        self.metrics.watchers.set(len(self._subscribers))

    async def replay(self, after: int, upto: int, prefix: str = "") -> tuple[bool, list[Change]]:
        """The changes in (`after`, `upto`] of names starting with `prefix`, and whether some of
        them may be missing because the log was trimmed (then the caller must start over)."""
        if after >= upto:
            return False, []
        async with self._db.read() as conn:
            oldest = await change_log.oldest(conn)
            if oldest is None or oldest > after + 1:
                return True, []
            found: list[Change] = []
            while True:
                batch = await change_log.read_after(conn, after, upto=upto, limit=READ_BATCH)
                found += [c for c in batch if c.name.startswith(prefix)]
                if len(batch) < READ_BATCH:
                    return False, found
                after = batch[-1].sequence

    def close(self) -> None:
        for subscription in list(self._subscribers):
            subscription.close()
