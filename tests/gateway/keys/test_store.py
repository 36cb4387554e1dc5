"""The key store's behaviour, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.keys.hashing import KeyHasher
from gateway.keys.model import KeyState
from gateway.keys.scoping import tenant_filter
from gateway.keys.store import KeyStore
from gateway.keys.tables import api_keys
from svckit.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ServiceError,
    Unauthenticated,
)
from tests.gateway.keys.conftest import FakeClock, new_key

pytestmark = pytest.mark.usefixtures("tenants")


async def rejection(store: KeyStore, presented: str) -> ServiceError:
    with pytest.raises(ServiceError) as raised:
        await store.authenticate(presented)
    return raised.value


# Tenants


async def test_tenants_are_listed_by_id(store: KeyStore, clock: FakeClock) -> None:
    listed = await store.list_tenants()

    assert [t.id for t in listed] == ["acme", "globex", "platform"]
    assert listed[0].name == "Acme Corp"
    assert listed[0].created_at == clock.datetime()
    assert not listed[0].disabled


async def test_a_tenant_without_a_name_is_named_by_its_id(store: KeyStore) -> None:
    assert (await store.create_tenant("initech")).name == "initech"


async def test_a_tenant_exists_once(store: KeyStore) -> None:
    with pytest.raises(AlreadyExists):
        await store.create_tenant("acme", "again")

    again = await store.create_tenant("acme", "again", exist_ok=True)
    assert again.name == "Acme Corp"


async def test_concurrent_creations_of_one_tenant_make_one(store: KeyStore) -> None:
    results = await asyncio.gather(
        *(store.create_tenant("initech") for _ in range(10)), return_exceptions=True
    )

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, AlreadyExists) for r in results if isinstance(r, BaseException))


async def test_a_bad_tenant_id_is_refused(store: KeyStore) -> None:
    with pytest.raises(InvalidArgument):
        await store.create_tenant("Not A Slug")


async def test_an_unknown_tenant_is_not_found(store: KeyStore) -> None:
    with pytest.raises(NotFound):
        await store.get_tenant("initech")
    with pytest.raises(NotFound):
        await store.set_tenant_disabled("initech", True)


# Creating and reading keys


async def test_a_created_key_authenticates_as_itself(store: KeyStore) -> None:
    created = await store.create_key(new_key())

    assert await store.authenticate(created.plaintext) == created.key
    assert await store.get_key(created.key.id) == created.key


async def test_only_the_hash_is_stored(store: KeyStore, hasher: KeyHasher) -> None:
    created = await store.create_key(new_key())

    async with store.engine.connect() as conn:
        row = (await conn.execute(select(api_keys))).one()
    stored = " ".join(str(value) for value in row)
    secret = created.plaintext.split("-", 2)[2]
    assert secret not in stored
    assert row.hash == hasher.digest(created.plaintext)


async def test_reads_never_return_hash_or_plaintext(store: KeyStore) -> None:
    created = await store.create_key(new_key())

    for key in [await store.get_key(created.key.id), *await store.list_keys("acme")]:
        assert created.plaintext not in repr(key)
        assert not hasattr(key, "hash")


async def test_keys_are_listed_per_tenant_oldest_first(store: KeyStore, clock: FakeClock) -> None:
    first = await store.create_key(new_key("acme"))
    clock.advance(1)
    second = await store.create_key(new_key("acme"))
    other = await store.create_key(new_key("globex"))

    assert [k.id for k in await store.list_keys("acme")] == [first.key.id, second.key.id]
    assert [k.id for k in await store.list_keys("globex")] == [other.key.id]
    assert len(await store.list_keys(None)) == 3


async def test_a_key_needs_an_existing_enabled_tenant(store: KeyStore) -> None:
    with pytest.raises(NotFound):
        await store.create_key(new_key("initech"))

    await store.set_tenant_disabled("acme", True)
    with pytest.raises(FailedPrecondition):
        await store.create_key(new_key("acme"))


async def test_an_invalid_request_creates_nothing(store: KeyStore) -> None:
    with pytest.raises(InvalidArgument):
        await store.create_key(replace(new_key(), scopes=frozenset({"root"})))

    assert await store.list_keys(None) == []


async def test_a_taken_id_is_replaced_by_a_fresh_one(store: KeyStore, hasher: KeyHasher) -> None:
    taken = (await store.create_key(new_key())).key.id
    ids = iter([taken, taken, "0000000000ff"])
    unlucky = KeyStore(store.engine, hasher, new_id=lambda: next(ids))

    created = await unlucky.create_key(new_key())

    assert created.key.id == "0000000000ff"
    assert await store.authenticate(created.plaintext) == created.key


async def test_ids_that_stay_taken_give_up(store: KeyStore, hasher: KeyHasher) -> None:
    taken = (await store.create_key(new_key())).key.id
    unlucky = KeyStore(store.engine, hasher, new_id=lambda: taken)

    with pytest.raises(AlreadyExists):
        await unlucky.create_key(new_key())


async def test_a_given_plaintext_is_adopted_once(store: KeyStore) -> None:
    plaintext = "sb-00000000beef-" + "d" * 43

    created = await store.create_key(new_key(), plaintext=plaintext)

    assert created.plaintext == plaintext
    assert (await store.authenticate(plaintext)).id == "00000000beef"
    with pytest.raises(AlreadyExists):
        await store.create_key(new_key(), plaintext=plaintext)


# Authentication


async def test_unknown_id_wrong_secret_and_garbage_fail_alike(store: KeyStore) -> None:
    created = await store.create_key(new_key())
    key_id = created.key.id
    wrong_secret = f"sb-{key_id}-" + "x" * 43
    unknown_id = "sb-ffffffffffff-" + created.plaintext.split("-", 2)[2]

    errors = [await rejection(store, p) for p in (wrong_secret, unknown_id, "garbage")]

    assert all(isinstance(e, Unauthenticated) for e in errors)
    assert {(e.message, e.reason) for e in errors} == {("invalid API key", "INVALID_API_KEY")}


async def test_errors_never_contain_the_presented_key(store: KeyStore, clock: FakeClock) -> None:
    created = await store.create_key(replace(new_key(), expires_at=clock.datetime() + timedelta(1)))
    presented = [created.plaintext, f"sb-{created.key.id}-" + "x" * 43, "sb-garbage-secret"]
    clock.advance(2 * 86400)

    for text in presented:
        error = await rejection(store, text)
        secret = text.split("-", 2)[-1]
        assert secret not in str(error)
        assert secret not in repr(error.metadata)


async def test_a_revoked_key_stops(store: KeyStore, clock: FakeClock) -> None:
    created = await store.create_key(new_key())
    clock.advance(5)

    revoked = await store.revoke_key(created.key.id)

    assert revoked.revoked_at == clock.datetime()
    assert revoked.state(clock.datetime()) is KeyState.REVOKED
    error = await rejection(store, created.plaintext)
    assert isinstance(error, Unauthenticated)
    assert error.reason == "API_KEY_REVOKED"


async def test_a_key_stops_at_its_expiry(store: KeyStore, clock: FakeClock) -> None:
    spec = replace(new_key(), expires_at=clock.datetime() + timedelta(hours=1))
    created = await store.create_key(spec)

    clock.advance(3599)
    assert (await store.authenticate(created.plaintext)).expires_at == spec.expires_at
    clock.advance(1)
    error = await rejection(store, created.plaintext)
    assert isinstance(error, Unauthenticated)
    assert error.reason == "API_KEY_EXPIRED"


async def test_a_disabled_tenants_keys_stop_until_enabled(store: KeyStore) -> None:
    created = await store.create_key(new_key())

    assert (await store.set_tenant_disabled("acme", True)).disabled
    error = await rejection(store, created.plaintext)
    assert isinstance(error, PermissionDenied)
    assert error.reason == "TENANT_DISABLED"

    await store.set_tenant_disabled("acme", False)
    assert (await store.authenticate(created.plaintext)).id == created.key.id


# Revocation


async def test_revoking_twice_keeps_the_first_time(store: KeyStore, clock: FakeClock) -> None:
    created = await store.create_key(new_key())
    first = await store.revoke_key(created.key.id)
    clock.advance(60)

    assert (await store.revoke_key(created.key.id)).revoked_at == first.revoked_at


async def test_concurrent_revocations_all_succeed_with_one_time(
    store: KeyStore, clock: FakeClock
) -> None:
    created = await store.create_key(new_key())

    async def revoke_at(offset: float) -> object:
        clock.advance(offset)
        return (await store.revoke_key(created.key.id)).revoked_at

    times = await asyncio.gather(*(revoke_at(1) for _ in range(20)))

    assert len(set(times)) == 1
    assert times[0] is not None
    assert (await store.get_key(created.key.id)).revoked_at == times[0]


async def test_revoking_an_unknown_key_is_not_found(store: KeyStore) -> None:
    with pytest.raises(NotFound):
        await store.revoke_key("ffffffffffff")


# Tenant isolation


async def test_a_tenant_key_never_reads_or_revokes_another_tenants_keys(store: KeyStore) -> None:
    acme = await store.create_key(new_key("acme", frozenset({"admin"})))
    globex = await store.create_key(new_key("globex"))
    caller = await store.authenticate(acme.plaintext)

    with pytest.raises(PermissionDenied):
        tenant_filter(caller, "globex")
    confined = tenant_filter(caller, None)
    assert [k.id for k in await store.list_keys(confined)] == [acme.key.id]
    with pytest.raises(NotFound):
        await store.get_key(globex.key.id, tenant=confined)
    with pytest.raises(NotFound):
        await store.revoke_key(globex.key.id, tenant=confined)
    assert (await store.get_key(globex.key.id)).revoked_at is None


async def test_a_platform_admin_reads_every_tenant(store: KeyStore) -> None:
    platform = await store.create_key(new_key("platform", frozenset({"admin"})))
    globex = await store.create_key(new_key("globex"))
    caller = await store.authenticate(platform.plaintext)

    everyone = tenant_filter(caller, None)
    assert {k.tenant for k in await store.list_keys(everyone)} == {"platform", "globex"}
    revoked = await store.revoke_key(globex.key.id, tenant=tenant_filter(caller, "globex"))
    assert revoked.revoked_at is not None


@pytest.mark.parametrize("odd", ["a\x00b", "abc", "ABCDEF012345", "x" * 500])
async def test_ids_and_tenants_no_key_could_have_are_not_found_without_a_query(
    store: KeyStore, odd: str
) -> None:
    """PostgreSQL refuses a NUL byte with an error of its own (a 500 before this)."""
    created = await store.create_key(new_key())
    with pytest.raises(NotFound):
        await store.get_key(odd)
    with pytest.raises(NotFound):
        await store.revoke_key(odd)
    with pytest.raises(NotFound):
        await store.get_key(created.key.id, tenant=odd)
    with pytest.raises(NotFound):
        await store.get_tenant(odd)
    assert await store.list_keys(odd) == []
    assert (await store.get_key(created.key.id)).state(store.now()) is KeyState.ACTIVE


async def test_control_characters_in_a_new_keys_user_or_name_are_refused(
    store: KeyStore,
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await store.create_key(replace(new_key(), user="a\x00b", name="line\nbreak"))
    assert sorted(v.field for v in refused.value.violations) == ["name", "user"]
    assert await store.list_keys("acme") == []
