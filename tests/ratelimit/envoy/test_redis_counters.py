"""The Redis store: one pipeline per call, key prefix, and failures as BackendUnavailable."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.envoy.counters import Increment
from services.ratelimit.envoy.redis_counters import RedisCounterStore
from tests.ratelimit.batch_spy import count_writes


async def test_keys_carry_the_store_prefix(redis_client: aioredis.Redis, key_prefix: str) -> None:
    store = RedisCounterStore(redis_client, key_prefix=key_prefix)
    await store.increment([Increment("domain_key_value_1234", 3, 1)])
    assert await redis_client.get(f"{key_prefix}domain_key_value_1234") == b"3"


async def test_one_call_is_one_round_trip(redis_client: aioredis.Redis, key_prefix: str) -> None:
    store = RedisCounterStore(redis_client, key_prefix=key_prefix)
    sent = count_writes(store._batch)
    await store.increment([Increment("a", 1, 60), Increment("b", 1, 60)])
    assert sent == [4]  # INCRBY and EXPIRE per key, written together


async def test_unreachable_redis_is_backend_unavailable() -> None:
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    store = RedisCounterStore(client)
    try:
        with pytest.raises(
            BackendUnavailable, match=r"counter store \(Redis\) is unavailable"
        ) as e:
            await store.increment([Increment("k", 1, 60)])
        assert "127.0.0.1" not in str(e.value)
    finally:
        await client.aclose()


async def test_a_key_holding_text_fails_the_call(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    await redis_client.set(f"{key_prefix}text", "not a number")
    store = RedisCounterStore(redis_client, key_prefix=key_prefix)
    with pytest.raises(BackendUnavailable):
        await store.increment([Increment("text", 1, 60)])
