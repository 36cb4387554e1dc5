"""The Redis store: one pipeline per call, key prefix, and failures as BackendUnavailable."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.envoy.counters import Increment
from services.ratelimit.envoy.redis_counters import RedisCounterStore


async def test_keys_carry_the_store_prefix(redis_client: aioredis.Redis, key_prefix: str) -> None:
    store = RedisCounterStore(redis_client, key_prefix=key_prefix)
    await store.increment([Increment("domain_key_value_1234", 3, 1)])
    assert await redis_client.get(f"{key_prefix}domain_key_value_1234") == b"3"


async def test_one_call_is_one_round_trip(redis_client: aioredis.Redis, key_prefix: str) -> None:
    sent: list[int] = []
    original = redis_client.pipeline

    def counting_pipeline(
        transaction: bool = True, shard_hint: str | None = None
    ) -> aioredis.client.Pipeline:
        assert transaction is False
        sent.append(1)
        return original(transaction=transaction, shard_hint=shard_hint)

    redis_client.pipeline = counting_pipeline  # type: ignore[method-assign]
    store = RedisCounterStore(redis_client, key_prefix=key_prefix)
    await store.increment([Increment("a", 1, 60), Increment("b", 1, 60)])
    assert sent == [1]


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
