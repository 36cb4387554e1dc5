"""The batcher against real Redis: shared pipelines, per-command errors, lost scripts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from services.ratelimit.redis_batch import RedisBatcher
from tests.ratelimit.batch_spy import count_writes
from tests.redis_server import RedisServer

SCRIPT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


async def test_concurrent_calls_share_one_pipeline_and_keep_their_replies(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    await redis_client.script_load(SCRIPT)  # else the first batch is sent again after a load
    batcher = RedisBatcher(redis_client, scripts=[SCRIPT])
    sent = count_writes(batcher)
    key = f"{key_prefix}n"
    replies = await asyncio.gather(
        *(batcher.eval(SCRIPT, [key], [i]) for i in range(1, 51)),
        batcher.execute([("SET", f"{key_prefix}s", "v"), ("GET", f"{key_prefix}s")]),
    )
    assert sent == [52]  # 50 scripts, SET and GET: one write
    assert sorted(replies[:50]) == sorted(sum(range(1, i + 1)) for i in range(1, 51))
    assert replies[50] == [b"OK", b"v"]  # raw replies: no client-side conversion
    assert await redis_client.get(key) == str(sum(range(1, 51))).encode()


async def test_a_refused_command_fails_only_its_caller(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    batcher = RedisBatcher(redis_client)
    await redis_client.set(f"{key_prefix}text", "abc")
    results: list[Any] = await asyncio.gather(
        batcher.execute([("INCRBY", f"{key_prefix}n", 2)]),
        batcher.execute([("INCRBY", f"{key_prefix}text", 1)]),
        return_exceptions=True,
    )
    good, bad = results
    assert good == [2]
    assert isinstance(bad, ResponseError)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[aioredis.Redis]:
    server = RedisServer(tmp_path)
    server.start()
    client = aioredis.Redis.from_url(server.url)
    yield client
    await client.aclose()
    server.stop()


async def test_scripts_lost_by_redis_are_loaded_again(private_redis: aioredis.Redis) -> None:
    batcher = RedisBatcher(private_redis, scripts=[SCRIPT])
    assert await batcher.eval(SCRIPT, ["n"], [1]) == 1
    await private_redis.script_flush()
    assert await asyncio.gather(*(batcher.eval(SCRIPT, ["n"], [1]) for _ in range(3))) == [2, 3, 4]


async def test_a_dead_connection_fails_every_caller_of_the_batch() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    batcher = RedisBatcher(client)
    try:
        results = await asyncio.gather(
            batcher.execute([("PING",)]), batcher.execute([("PING",)]), return_exceptions=True
        )
    finally:
        await client.aclose()
    assert all(isinstance(r, RedisConnectionError) for r in results), results
