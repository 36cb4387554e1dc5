"""The key cache in front of a real (SQLite) key store: what it saves, and when it lets go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from gateway.keys.cache import CachedKeyLookup
from gateway.keys.hashing import KeyHasher
from gateway.keys.model import ApiKey
from gateway.keys.store import CreatedKey, Credential, KeyStore
from gateway.migrations import migrate
from svckit.errors import PermissionDenied, Unauthenticated
from svckit.sql import create_engine
from tests.gateway.keys.conftest import FakeClock, new_key

TTL = 30.0
NEGATIVE_TTL = 5.0


class CountingStore(KeyStore):
    """The real store, counting its lookups; `gate`, when set, holds each lookup's answer
    (read from the database already) until it is opened."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries = 0
        self.gate: asyncio.Event | None = None
        self.read = asyncio.Event()

    async def verify(self, credential: Credential) -> ApiKey:
        self.queries += 1
        try:
            return await super().verify(credential)
        finally:
            self.read.set()
            if self.gate is not None:
                await self.gate.wait()


@pytest.fixture
async def store(
    sqlite_url: str, hasher: KeyHasher, clock: FakeClock
) -> AsyncIterator[CountingStore]:
    await migrate(sqlite_url)
    counting = CountingStore(create_engine(sqlite_url), hasher, clock=clock)
    await counting.create_tenant("acme")
    yield counting
    await counting.engine.dispose()


@pytest.fixture
def cache(store: CountingStore, clock: FakeClock) -> CachedKeyLookup:
    return replica(store, clock)


def replica(store: KeyStore, clock: FakeClock, max_entries: int = 100) -> CachedKeyLookup:
    return CachedKeyLookup(
        store,
        ttl_seconds=TTL,
        negative_ttl_seconds=NEGATIVE_TTL,
        max_entries=max_entries,
        clock=clock,
    )


@pytest.fixture
async def created(store: CountingStore) -> CreatedKey:
    return await store.create_key(new_key())


async def test_a_key_is_looked_up_once_within_the_ttl(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey, clock: FakeClock
) -> None:
    for _ in range(5):
        assert await cache.authenticate(created.plaintext) == created.key
        clock.advance(TTL / 10)

    assert store.queries == 1


async def test_a_key_is_looked_up_again_after_the_ttl(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey, clock: FakeClock
) -> None:
    await cache.authenticate(created.plaintext)
    clock.advance(TTL)

    await cache.authenticate(created.plaintext)

    assert store.queries == 2


async def test_revoking_here_takes_effect_at_once(
    cache: CachedKeyLookup, created: CreatedKey
) -> None:
    await cache.authenticate(created.plaintext)

    await cache.revoke(created.key.id)

    with pytest.raises(Unauthenticated, match="revoked"):
        await cache.authenticate(created.plaintext)


async def test_revoking_on_another_replica_takes_effect_within_the_ttl(
    store: CountingStore, created: CreatedKey, clock: FakeClock
) -> None:
    here, there = replica(store, clock), replica(store, clock)
    await there.authenticate(created.plaintext)

    await here.revoke(created.key.id)
    clock.advance(TTL - 1)
    assert await there.authenticate(created.plaintext) == created.key  # the documented window
    clock.advance(1)

    with pytest.raises(Unauthenticated, match="revoked"):
        await there.authenticate(created.plaintext)


async def test_a_cached_key_stops_at_its_expiry(
    cache: CachedKeyLookup, store: CountingStore, clock: FakeClock
) -> None:
    spec = replace(new_key(), expires_at=clock.datetime() + timedelta(seconds=10))
    created = await store.create_key(spec)
    await cache.authenticate(created.plaintext)

    clock.advance(10)

    with pytest.raises(Unauthenticated, match="expired"):
        await cache.authenticate(created.plaintext)


async def test_a_bad_key_is_remembered_briefly(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey, clock: FakeClock
) -> None:
    wrong = f"sb-{created.key.id}-" + "x" * 43
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await cache.authenticate(wrong)
    assert store.queries == 1

    clock.advance(NEGATIVE_TTL)
    with pytest.raises(Unauthenticated):
        await cache.authenticate(wrong)
    assert store.queries == 2


async def test_each_rejection_is_a_fresh_error_with_the_same_verdict(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey
) -> None:
    await store.set_tenant_disabled("acme", True)
    errors = []
    for _ in range(2):
        with pytest.raises(PermissionDenied) as raised:
            await cache.authenticate(created.plaintext)
        errors.append(raised.value)

    assert errors[0] is not errors[1]
    assert (errors[0].message, errors[0].reason) == (errors[1].message, errors[1].reason)


async def test_malformed_keys_never_reach_the_database(
    cache: CachedKeyLookup, store: CountingStore
) -> None:
    with pytest.raises(Unauthenticated):
        await cache.authenticate("not a key")
    assert store.queries == 0


async def test_database_errors_are_not_remembered(
    hasher: KeyHasher, clock: FakeClock, created: CreatedKey
) -> None:
    # A database server that refuses connections. (Not an SQLite file that cannot be opened:
    # aiosqlite answers a failed connect by queueing its thread's stop with a future nobody
    # awaits, which the thread may resolve after this test's event loop has closed.)
    broken = CountingStore(
        create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none"), hasher, clock=clock
    )
    cache = replica(broken, clock)
    for _ in range(2):
        with pytest.raises(ConnectionRefusedError):
            await cache.authenticate(created.plaintext)

    assert broken.queries == 2
    assert len(cache) == 0
    await broken.engine.dispose()


async def test_concurrent_lookups_of_one_key_share_one_query(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey
) -> None:
    keys = await asyncio.gather(*(cache.authenticate(created.plaintext) for _ in range(50)))

    assert set(keys) == {created.key}
    assert store.queries == 1


async def test_a_cancelled_caller_does_not_fail_the_others(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey
) -> None:
    store.gate = asyncio.Event()
    first = asyncio.create_task(cache.authenticate(created.plaintext))
    second = asyncio.create_task(cache.authenticate(created.plaintext))
    await store.read.wait()

    first.cancel()
    store.gate.set()

    assert await second == created.key
    assert first.cancelled()
    assert store.queries == 1


async def test_a_lookup_running_across_a_revocation_is_not_cached(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey
) -> None:
    store.gate = asyncio.Event()
    before = asyncio.create_task(cache.authenticate(created.plaintext))
    await store.read.wait()  # it read the still active key, and waits at the gate
    await store.revoke_key(created.key.id)
    cache.forget(created.key.id)
    store.gate.set()
    assert await before == created.key  # in flight when the key was revoked

    store.gate = None
    with pytest.raises(Unauthenticated, match="revoked"):
        await cache.authenticate(created.plaintext)


async def test_the_cache_is_bounded_least_recently_used_first(
    store: CountingStore, clock: FakeClock
) -> None:
    cache = replica(store, clock, max_entries=2)
    keys = [await store.create_key(new_key()) for _ in range(3)]
    for key in keys:
        await cache.authenticate(key.plaintext)
    assert len(cache) == 2
    assert store.queries == 3

    await cache.authenticate(keys[2].plaintext)
    await cache.authenticate(keys[0].plaintext)

    assert store.queries == 4


async def test_clearing_forgets_every_key(
    cache: CachedKeyLookup, store: CountingStore, created: CreatedKey
) -> None:
    await cache.authenticate(created.plaintext)
    await store.set_tenant_disabled("acme", True)

    cache.clear()

    assert len(cache) == 0
    with pytest.raises(PermissionDenied):
        await cache.authenticate(created.plaintext)


def test_a_cache_holds_at_least_one_entry(store: CountingStore) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        CachedKeyLookup(store, max_entries=0)
