"""How a change made by one replica reaches the others: the revision counter, polled, and on
PostgreSQL a LISTEN/NOTIFY wake-up.

Every replica polls the change counter (`flags_sequence`, one row) every
`FLAGS_POLL_INTERVAL_SECONDS` and reloads its snapshot when it moved. That alone is correct on
both databases (several processes may share one SQLite file too) and survives anything:
lost connections, missed notifications, a replica that was down.

On PostgreSQL each write also sends `NOTIFY flags_changed` in its transaction (delivered at
commit), and each replica LISTENs on a connection of its own (asyncpg, outside the pool): a
notification wakes the poll at once, so other replicas follow within milliseconds rather than
within the poll interval. The listening connection is re-opened when it drops; meanwhile
polling carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from services.flags.state import FlagState
from services.flags.store import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


class ChangeFeed:
    def __init__(self, state: FlagState, database_url: str, interval_seconds: float) -> None:
        self._state = state
        self._url = make_url(database_url)
        self._interval = interval_seconds
        self._wake = asyncio.Event()
        self._listener: Any = None
        self._healthy = True
        self.started = asyncio.Event()
        """Set once the feed listens (when it can) and has polled once."""

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    async def run(self) -> None:
        """Poll until cancelled."""
        try:
            while True:
                await self._ensure_listening()
                await self._poll()
                self.started.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
                self._wake.clear()
        finally:
            await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    async def _poll(self) -> None:
        try:
            await self._state.refresh()
        except Exception:  # the database is away: keep serving the last snapshot
            if self._healthy:
                log.warning("could not read flag changes; serving the last flags", exc_info=True)
            self._healthy = False
        else:
            self._healthy = True

    async def _ensure_listening(self) -> None:
        if self._url.get_backend_name() != "postgresql" or self.listening:
            return
        await self._close_listener()
        dsn = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            connection = await asyncpg.connect(dsn, timeout=5)
            await connection.add_listener(NOTIFY_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("LISTEN %s failed (%s); polling only", NOTIFY_CHANNEL, type(exc).__name__)
            return
        self._listener = connection

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            await listener.close(timeout=2)


__all__ = ["ChangeFeed"]
