"""A replica's state: reloading when the counter moves, waking its streams, and following
changes made by other replicas (polling; LISTEN/NOTIFY on PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.flags import edits
from services.flags.change_feed import ChangeFeed
from services.flags.database import create_engine
from services.flags.revision import Authorship, RevisionKind
from services.flags.state import FlagState
from services.flags.store import FlagStore

from .flag_data import boolean_flag

BY = Authorship("ann")
WAIT = 10.0
"""Generous bound on awaiting an event that should come at once."""


async def create(store: FlagStore, name: str) -> None:
    await store.write(name, edits.create_set({}, {}), kind=RevisionKind.CREATE_SET, by=BY)


async def test_refresh_loads_only_when_the_counter_moved(store: FlagStore) -> None:
    state = FlagState(store)

    assert not await state.refresh()
    await create(store, "a")
    assert await state.refresh()
    assert state.snapshot.version == 1
    assert state.snapshot.find("a") is not None
    assert not await state.refresh()


async def test_a_commit_here_is_served_at_once(store: FlagStore) -> None:
    state = FlagState(store)
    store.on_commit(state.on_commit)
    async with state.watch() as watch:
        await create(store, "a")

        assert await watch.wait(0)  # already woken: the commit refreshed the state
    assert state.snapshot.version == 1
    assert state.watchers == 0


async def test_watches_time_out_and_end_when_the_state_closes(store: FlagStore) -> None:
    state = FlagState(store)
    async with state.watch() as watch:
        assert not await watch.wait(0.01)
        state.close()
        assert await watch.wait(WAIT)
        assert watch.closed


@contextlib.asynccontextmanager
async def following(
    database_url: str, interval: float
) -> AsyncIterator[tuple[FlagState, ChangeFeed]]:
    """Another replica: its own engine, store, state and change feed."""
    engine = create_engine(database_url)
    state = FlagState(FlagStore(engine))
    feed = ChangeFeed(state, database_url, interval)
    task = asyncio.create_task(feed.run())
    try:
        yield state, feed
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def wait_for_version(state: FlagState, version: int) -> None:
    async with state.watch() as watch:
        async with asyncio.timeout(WAIT):
            while state.snapshot.version < version:
                await watch.wait(None)


async def test_another_replica_follows_by_polling(database_url: str, engine: AsyncEngine) -> None:
    store = FlagStore(engine)
    async with following(database_url, interval=0.02) as (state, _):
        await create(store, "a")
        await wait_for_version(state, 1)
        await store.write(
            "a", edits.create_flag("f", boolean_flag()), kind=RevisionKind.CREATE_FLAG, by=BY
        )
        await wait_for_version(state, 2)

    assert "f" in state.snapshot.view().flags


async def test_postgresql_notifies_other_replicas_at_once(postgres_url: str) -> None:
    """The follower polls once an hour: only the notification can bring the change."""
    from services.flags.database import migrate

    await migrate(postgres_url)
    engine = create_engine(postgres_url)
    store = FlagStore(engine)
    try:
        async with following(postgres_url, interval=3600) as (state, feed):
            async with asyncio.timeout(WAIT):
                await feed.started.wait()
            assert feed.listening
            await create(store, "a")
            await wait_for_version(state, 1)

            # A dropped listening connection is opened again (what each round of the feed
            # does first), and notifications resume.
            await feed._listener.close()
            assert not feed.listening
            await feed._ensure_listening()
            assert feed.listening
            await create(store, "b")
            await wait_for_version(state, 2)
    finally:
        await engine.dispose()


async def test_the_feed_keeps_the_last_flags_while_the_database_is_away(
    store: FlagStore, caplog: pytest.LogCaptureFixture
) -> None:
    await create(store, "a")
    state = FlagState(store)
    feed = ChangeFeed(state, "sqlite+aiosqlite:///unused.db", 0.01)
    await feed._poll()
    await store.engine.dispose()
    # Away as a server that refuses connections. (Not an SQLite path that cannot be opened:
    # aiosqlite answers a failed connect by queueing its thread's stop with a future nobody
    # awaits, which the thread may resolve after this test's event loop has closed.)
    store.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")

    await feed._poll()
    await feed._poll()  # logged once, not on every poll

    assert state.snapshot.version == 1
    assert caplog.text.count("could not read flag changes") == 1
    await store.engine.dispose()


async def test_listen_failure_falls_back_to_polling(caplog: pytest.LogCaptureFixture) -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    engine = create_engine(url)
    feed = ChangeFeed(FlagState(FlagStore(engine)), url, 0.01)

    await feed._ensure_listening()

    assert "polling only" in caplog.text
    assert not feed.listening
    await engine.dispose()
