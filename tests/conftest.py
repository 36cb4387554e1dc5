"""Fixtures shared by every test: real backends, named after what they give.

Redis tests use the server at SWITCHBOARD_TEST_REDIS_URL (default redis://127.0.0.1:6379/0),
each test under its own key prefix so runs never see each other's counters. Where no server
answers the tests skip with the reason, unless SWITCHBOARD_REQUIRE_BACKENDS=1 (set by CI and
`make test`), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def backends_required() -> bool:
    return os.environ.get("SWITCHBOARD_REQUIRE_BACKENDS", "") in {"1", "true", "yes"}


def missing_backend(reason: str) -> None:
    """Skip the test, or fail it when real backends are required."""
    if backends_required():
        pytest.fail(f"{reason} (SWITCHBOARD_REQUIRE_BACKENDS=1)")
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def key_prefix() -> str:
    """A prefix no other test uses, so tests share one Redis without seeing each other."""
    return f"test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_available(redis_url: str, key_prefix: str) -> Iterator[str]:
    """The Redis URL once a server there answered (a synchronous check, for sync fixtures);
    the test's keys (under `key_prefix`) are deleted afterwards."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (OSError, redis.RedisError) as exc:
        client.close()
        missing_backend(f"no Redis at {redis_url}: {exc}")
    yield redis_url
    for key in client.scan_iter(match=f"{key_prefix}*", count=500):
        client.delete(key)
    client.close()


@pytest.fixture
async def redis_client(redis_url: str, key_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        missing_backend(f"no Redis at {redis_url}: {exc}")
    yield client
    async for key in client.scan_iter(match=f"{key_prefix}*", count=500):
        await client.delete(key)
    await client.aclose()
