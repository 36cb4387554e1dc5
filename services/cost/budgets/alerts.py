"""Alerts: listing them (ListAlerts) and following them as they are raised (WatchAlerts).

Alerts are rows of `cost_alerts`, written once per threshold and period by accounting. The
`AlertFeed` hands new ones to its subscribers from two sources:

- `publish`, called by accounting after its commit on this replica: delivered at once;
- `poll_once` (run every `poll_interval_seconds` by `run`), which reads the rows raised in the
  last `lookback_seconds` (60): alerts raised by other replicas. The lookback, rather than
  "after the last row seen", is there because `raised_at` is the writer's clock at insert and
  rows commit in another order than they were stamped (and replicas' clocks differ a little):
  a row stamped before the newest one seen may still appear. Alerts are deduplicated by id, so
  each is delivered once per feed whichever source sees it first. A row that commits more than
  `lookback_seconds` after it was stamped is missed by remote watchers (it stays listable).

Each subscriber has a bounded queue (`queue_size`): one that falls that far behind is dropped,
its iterator raising ResourceExhausted so the client knows to list what it missed, and the
feed never blocks or grows for a slow reader. WatchAlerts delivers alerts from the moment the
subscription is made, at most once each. `close` (at the start of shutdown) ends every
subscription cleanly, and any made afterwards ends at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.model import Alert
from services.cost.budgets.periods import as_utc
from services.cost.money import Money
from services.cost.tables import alerts
from svckit.errors import ResourceExhausted

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DEFAULT_LOOKBACK_SECONDS = 60.0
DEFAULT_QUEUE_SIZE = 100
DEFAULT_POLL_INTERVAL_SECONDS = 1.0

log = logging.getLogger(__name__)


async def list_alerts(engine: AsyncEngine, *, budget_id: str = "", limit: int = 0) -> list[Alert]:
    """Alerts newest first, of one budget when given; `limit` 0 means 100, at most 1000."""
    size = min(limit or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    query = select(alerts).order_by(alerts.c.raised_at.desc(), alerts.c.id.desc()).limit(size)
    if budget_id:
        query = query.where(alerts.c.budget_id == budget_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [alert_from_row(row._mapping) for row in rows]


def alert_from_row(row: Any) -> Alert:
    return Alert(
        id=row["id"],
        budget_id=row["budget_id"],
        scope=row["scope"],
        threshold=row["threshold"],
        period_start=as_utc(row["period_start"]),
        spent=Money(row["currency"], row["spent_nanos"]),
        limit=Money(row["currency"], row["limit_nanos"]),
        raised_at=as_utc(row["raised_at"]),
    )


class AlertSubscription:
    """New alerts of one scope (all when empty): an async iterator; close it when done."""

    def __init__(self, feed: AlertFeed, scope: str, queue_size: int) -> None:
        self.scope = scope
        self._feed = feed
        self._capacity = queue_size
        # One slot more than the capacity, for the end-of-stream marker.
        self._queue: asyncio.Queue[Alert | None] = asyncio.Queue(queue_size + 1)
        self._overflowed = False
        self._closed = False

    def offer(self, alert: Alert) -> None:
        if self._closed or (self.scope and alert.scope != self.scope):
            return
        if self._queue.qsize() >= self._capacity:
            self._overflowed = True
            self.close()
            return
        self._queue.put_nowait(alert)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._feed.unsubscribe(self)
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Alert]:
        return self

    async def __anext__(self) -> Alert:
        item = await self._queue.get()
        if item is not None:
            return item
        self._queue.put_nowait(None)  # later calls end too
        if self._overflowed:
            raise ResourceExhausted("alert watcher fell behind; list alerts to catch up")
        raise StopAsyncIteration

    async def __aenter__(self) -> AlertSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AlertFeed:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], float] = time.time,
        lookback_seconds: float = DEFAULT_LOOKBACK_SECONDS,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        poll_interval_seconds: float = DEFAULT_POLL_INTERVAL_SECONDS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._lookback = lookback_seconds
        self._queue_size = queue_size
        self._interval = poll_interval_seconds
        self._sleep = sleep
        self._subscribers: set[AlertSubscription] = set()
        self._seen: dict[str, float] = {}
        self._primed = False
        self._closed = False

    def subscribe(self, scope: str = "") -> AlertSubscription:
        """Already ended once the feed is closed: a watch begun during shutdown ends at once."""
        subscription = AlertSubscription(self, scope, self._queue_size)
        self._subscribers.add(subscription)
        if self._closed:
            subscription.close()
        return subscription

    def unsubscribe(self, subscription: AlertSubscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, raised: Sequence[Alert]) -> None:
        """Alerts this replica has just committed (an accounting listener)."""
        for alert in raised:
            self._deliver(alert)

    async def poll_once(self) -> int:
        """Delivers the alerts raised recently that this feed has not seen; returns how many.
        The first poll only learns what exists (WatchAlerts starts from now)."""
        since = datetime.fromtimestamp(self._clock() - self._lookback, UTC)
        query = select(alerts).where(alerts.c.raised_at >= since)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(alerts.c.raised_at, alerts.c.id))).all()
        found = [alert_from_row(row._mapping) for row in rows]
        primed, self._primed = self._primed, True
        delivered = sum(self._deliver(alert, quietly=not primed) for alert in found)
        self._forget_old()
        return delivered

    async def run(self) -> None:
        """Polls until cancelled; a failed poll is logged and retried at the next interval."""
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # the database may be briefly away; keep following
                log.warning("polling alerts failed: %s", type(exc).__name__)
            await self._sleep(self._interval)

    def close(self) -> None:
        """Ends every subscription, and those made later (shutdown)."""
        self._closed = True
        for subscription in list(self._subscribers):
            subscription.close()

    def _deliver(self, alert: Alert, *, quietly: bool = False) -> bool:
        if alert.id in self._seen:
            return False
        self._seen[alert.id] = alert.raised_at.timestamp()
        if quietly:
            return False
        for subscription in list(self._subscribers):
            subscription.offer(alert)
        return True

    def _forget_old(self) -> None:
        """Ids older than twice the lookback cannot be polled again."""
        horizon = self._clock() - 2 * self._lookback
        for alert_id, raised in list(self._seen.items()):
            if raised < horizon:
                del self._seen[alert_id]


__all__ = ["AlertFeed", "AlertSubscription", "alert_from_row", "list_alerts"]
