"""This replica's flags: the current snapshot, and the streams waiting for the next one.

`refresh()` reloads the snapshot when the store's change counter has moved past the one held;
it runs after every commit made here (so this replica's clients hear of a change at once) and
whenever the change feed wakes (changes made by other replicas; see `change_feed`). Each
stream holds a `Watch`: woken on every new snapshot, it compares what its selector sees with
what it last sent, so a change to flags it does not see wakes it but sends nothing.

`close()` ends every watch (the server is draining): streams send flagd's `provider_shutdown`
and finish instead of holding the shutdown until the grace period is over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType

from services.flags.snapshot import EMPTY, Snapshot
from services.flags.store import FlagStore

log = logging.getLogger(__name__)


class Watch:
    """Wakes when a new snapshot is published or the state closes."""

    def __init__(self, state: FlagState) -> None:
        self._state = state
        self._event = asyncio.Event()

    @property
    def closed(self) -> bool:
        return self._state.closed

    def notify(self) -> None:
        self._event.set()

    async def wait(self, seconds: float | None) -> bool:
        """True when woken (new snapshot or closed), False after `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return False
        self._event.clear()
        return True

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state.forget(self)


class FlagState:
    def __init__(
        self, store: FlagStore, on_snapshot: Callable[[Snapshot], None] | None = None
    ) -> None:
        self._store = store
        self._snapshot = EMPTY
        self._lock = asyncio.Lock()
        self._watches: set[Watch] = set()
        self._on_snapshot = on_snapshot
        self.closed = False

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def watchers(self) -> int:
        return len(self._watches)

    async def refresh(self) -> bool:
        """Loads the store's newest snapshot if it is newer; True when it was."""
        async with self._lock:
            if await self._store.version() <= self._snapshot.version:
                return False
            snapshot = await self._store.snapshot()
            if snapshot.version <= self._snapshot.version:
                return False
            self._snapshot = snapshot
        log.info("flags at revision %d (%d flag sets)", snapshot.version, len(snapshot.sets))
        if self._on_snapshot is not None:
            self._on_snapshot(snapshot)
        self._wake_all()
        return True

    async def on_commit(self, revision: int) -> None:
        """The store's commit listener."""
        await self.refresh()

    def watch(self) -> Watch:
        watch = Watch(self)
        self._watches.add(watch)
        return watch

    def forget(self, watch: Watch) -> None:
        self._watches.discard(watch)

    def open(self) -> None:
        """Serving (again): new streams stay open."""
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self._wake_all()

    def _wake_all(self) -> None:
        for watch in list(self._watches):
            watch.notify()


__all__ = ["FlagState", "Watch"]
