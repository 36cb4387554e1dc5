"""What the stores do below the limiter: the Redis layout and housekeeping, failures, and the
memory store's expiry. The behaviour both share is tested through the limiter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.limiter import FailureMode, Limiter
from services.ratelimit.limits import CounterKey, LimitKind
from services.ratelimit.memory_quota_store import MemoryQuotaStore
from services.ratelimit.overrides import Override
from services.ratelimit.quota_store import (
    Charge,
    QuotaStore,
    Reservation,
    ReservationState,
    SettledReservation,
    Settlement,
)
from services.ratelimit.redis_quota_store import RedisQuotaStore
from services.ratelimit.subjects import QuotaSubject
from services.ratelimit.tiers import TierCatalog

from .conftest import NOON
from .fake_clock import FakeClock

RPM = LimitKind.REQUESTS_PER_MINUTE
TPM = LimitKind.TOKENS_PER_MINUTE


def reservation(
    subject: str = "keys/k1", *, tokens: int = 10, now: float = NOON, ttl: float = 600
) -> Reservation:
    return Reservation(
        id=f"r-{subject}",
        tokens=tokens,
        charges=(
            Charge(CounterKey(subject, "", RPM, int(NOON)), 1, 3),
            Charge(CounterKey(subject, "", TPM, int(NOON)), tokens, 100),
        ),
        expire_time=now + ttl,
    )


async def test_an_admission_returns_the_counts_before_the_call(quota_store: QuotaStore) -> None:
    first = await quota_store.admit(reservation(tokens=40), NOON)
    second = await quota_store.admit(reservation("keys/k2"), NOON)
    refused = await quota_store.admit(reservation(tokens=61), NOON + 1)
    assert (first.admitted, first.counts) == (True, (0, 0))
    assert (second.admitted, second.counts) == (True, (0, 0))
    assert (refused.admitted, refused.counts) == (False, (1, 40))
    counters = [charge.counter for charge in reservation().charges]
    assert await quota_store.counts(counters, NOON + 1) == [1, 40]
    assert await quota_store.counts([], NOON) == []


async def test_a_reservation_without_charges_is_still_recorded(quota_store: QuotaStore) -> None:
    empty = Reservation(id="r-empty", tokens=0, charges=(), expire_time=NOON + 60)
    assert (await quota_store.admit(empty, NOON)).admitted
    settled = await quota_store.settle(Settlement("r-empty", 5, NOON, NOON + 60))
    assert settled == SettledReservation(ReservationState.COMMITTED, 0, 5)


async def test_only_a_reserved_reservation_changes(quota_store: QuotaStore) -> None:
    await quota_store.admit(reservation(tokens=40), NOON)
    release = Settlement("r-keys/k1", None, NOON, NOON + 600)
    released = SettledReservation(ReservationState.RELEASED, 40, None)
    assert await quota_store.settle(release) == released
    assert await quota_store.settle(Settlement("r-keys/k1", 7, NOON, NOON + 600)) == released
    counters = [charge.counter for charge in reservation().charges]
    assert await quota_store.counts(counters, NOON) == [0, 0]
    assert await quota_store.settle(Settlement("r-unknown", 7, NOON, NOON + 600)) is None


async def test_settling_finds_counters_of_any_model_name(quota_store: QuotaStore) -> None:
    counter = CounterKey("keys/k1", "modèle/ünï|cödé ✓", TPM, int(NOON))
    charged = Reservation("r-unicode", 30, (Charge(counter, 30, 100),), NOON + 60)
    await quota_store.admit(charged, NOON)
    await quota_store.settle(Settlement("r-unicode", 12, NOON, NOON + 60))
    assert await quota_store.counts([counter], NOON) == [12]


async def test_overrides_of_several_subjects_at_once(quota_store: QuotaStore) -> None:
    await quota_store.put_override(Override("keys/a", requests_per_day=1), NOON)
    await quota_store.put_override(Override("keys/c", 1, expire_time=NOON + 5), NOON)
    found = await quota_store.overrides(["keys/a", "keys/b", "keys/c"], NOON)
    assert [o.subject if o else None for o in found] == ["keys/a", None, "keys/c"]
    assert (await quota_store.overrides(["keys/c"], NOON + 5)) == [None]


async def test_memory_store_forgets_what_has_expired() -> None:
    store = MemoryQuotaStore()
    for minute in range(100):
        now = NOON + 60 * minute
        await store.admit(reservation(now=now, ttl=120), now)
        await store.put_override(Override(f"keys/m{minute}", 1, expire_time=now + 30), now)
    await store.put_override(Override("keys/forever", 1), NOON)
    await store.counts([], NOON + 6000)
    sizes = [len(m._items) for m in (store._counters, store._reservations, store._overrides)]
    assert sizes == [0, 1, 1]


async def test_redis_keys_live_under_the_prefix_and_expire_with_their_window(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = RedisQuotaStore(redis_client, key_prefix=key_prefix)
    now = NOON + 20
    await store.admit(reservation(now=now), now)
    await store.put_override(Override("keys/k1", 5, expire_time=now + 90), now)
    keys = sorted([key.decode() async for key in redis_client.scan_iter(match=f"{key_prefix}*")])
    assert keys == [
        f"{key_prefix}ov",
        f"{key_prefix}o|keys/k1",
        f"{key_prefix}q|keys/k1||rpm|{int(NOON)}",
        f"{key_prefix}q|keys/k1||tpm|{int(NOON)}",
        f"{key_prefix}r|r-keys/k1",
    ]
    keys.remove(f"{key_prefix}ov")  # the overrides version never expires
    for key, want in zip(keys, [90, 40, 40, 600], strict=True):
        await _assert_ttl(redis_client, key, want)


async def _assert_ttl(client: aioredis.Redis, key: str, seconds: int) -> None:
    """Redis counts TTLs down in real time: allow for a slow, busy machine while we read."""
    millis = await client.pttl(key)
    assert (seconds - 5) * 1000 < millis <= seconds * 1000, (key, millis)


async def test_a_settled_reservation_is_kept_for_the_ttl_from_settling(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = RedisQuotaStore(redis_client, key_prefix=key_prefix)
    await store.admit(reservation(), NOON)
    await store.settle(Settlement("r-keys/k1", 3, NOON + 100, NOON + 700))
    await _assert_ttl(redis_client, f"{key_prefix}r|r-keys/k1", 600)
    await _assert_ttl(redis_client, f"{key_prefix}q|keys/k1||tpm|{int(NOON)}", 60)


async def test_redis_prefixes_keep_stores_apart_even_with_glob_characters(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    star = RedisQuotaStore(redis_client, key_prefix=f"{key_prefix}*")
    plain = RedisQuotaStore(redis_client, key_prefix=f"{key_prefix}x")
    for store in (star, plain):
        await store.admit(reservation(), NOON)
    assert await star.reset("keys/k1", NOON) == 2
    counters = [charge.counter for charge in reservation().charges]
    assert await plain.counts(counters, NOON) == [1, 10]
    assert await star.counts(counters, NOON) == [0, 0]


async def test_redis_reset_deletes_in_batches(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    store = RedisQuotaStore(redis_client, key_prefix=key_prefix)
    charges = tuple(
        Charge(CounterKey("keys/k1", f"model-{index}", RPM, int(NOON)), 1, 10)
        for index in range(1203)
    )
    await store.admit(Reservation("r-many", 0, charges, NOON + 60), NOON)
    assert await store.reset("keys/k1", NOON) == 1203


async def test_redis_store_works_with_a_decoding_client(
    redis_url: str, key_prefix: str, redis_client: aioredis.Redis
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisQuotaStore(client, key_prefix=key_prefix)
    try:
        await store.admit(reservation(), NOON)
        settled = await store.settle(Settlement("r-keys/k1", 4, NOON, NOON + 60))
        assert settled == SettledReservation(ReservationState.COMMITTED, 10, 4)
        await store.put_override(Override("keys/k1", 1), NOON)
        assert await store.delete_override("keys/k1", NOON)
    finally:
        await client.aclose()


@pytest.fixture
async def unreachable_client() -> AsyncIterator[aioredis.Redis]:
    """A client of a port nobody listens on, failing at once (no retries)."""
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    yield client
    await client.aclose()


@pytest.fixture
async def silent_client() -> AsyncIterator[aioredis.Redis]:
    """A client of a server that accepts connections and never answers."""
    accepted: list[asyncio.StreamWriter] = []

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = aioredis.Redis(
        host="127.0.0.1", port=port, socket_timeout=0.1, retry=Retry(NoBackoff(), 0)
    )
    yield client
    await client.aclose()
    for writer in accepted:
        writer.close()
    server.close()
    await server.wait_closed()


STORE_CALLS = {
    "admit": lambda store: store.admit(reservation(), NOON),
    "counts": lambda store: store.counts([CounterKey("keys/k1", "", RPM, 0)], NOON),
    "settle": lambda store: store.settle(Settlement("r", 1, NOON, NOON + 60)),
    "reset": lambda store: store.reset("keys/k1", NOON),
    "put_override": lambda store: store.put_override(Override("keys/k1", 1), NOON),
    "overrides": lambda store: store.overrides(["keys/k1"], NOON),
    "delete_override": lambda store: store.delete_override("keys/k1", NOON),
}


@pytest.mark.parametrize("method", list(STORE_CALLS))
async def test_an_unreachable_redis_is_backend_unavailable(
    unreachable_client: aioredis.Redis, method: str
) -> None:
    store = RedisQuotaStore(unreachable_client, key_prefix="unreachable:")
    with pytest.raises(BackendUnavailable) as caught:
        await STORE_CALLS[method](store)
    assert caught.value.reason == "RATELIMIT_BACKEND_UNAVAILABLE"


async def test_a_redis_that_does_not_answer_is_backend_unavailable(
    silent_client: aioredis.Redis,
) -> None:
    store = RedisQuotaStore(silent_client, key_prefix="silent:")
    with pytest.raises(BackendUnavailable):
        await store.counts([CounterKey("keys/k1", "", RPM, 0)], NOON)


@pytest.mark.parametrize(("mode", "allowed"), [("open", True), ("closed", False)])
async def test_checks_follow_the_failure_mode_when_the_store_is_down(
    unreachable_client: aioredis.Redis,
    tiers: TierCatalog,
    fake_clock: FakeClock,
    mode: str,
    allowed: bool,
) -> None:
    store = RedisQuotaStore(unreachable_client, key_prefix="unreachable:")
    limiter = Limiter(store, tiers, clock=fake_clock, failure_mode=FailureMode(mode))
    result = await limiter.check([QuotaSubject("keys/k1", "basic")], "", 10)
    assert (result.allowed, result.backend_unavailable) == (allowed, True)
    assert (result.limits, result.reservation_id, result.retry_after) == ((), None, None)
    with pytest.raises(BackendUnavailable):
        await limiter.usage("keys/k1", "basic", "")
