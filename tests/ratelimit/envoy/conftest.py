"""Fixtures of the Envoy API tests: fake time, stats, both counter stores, conformance data."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from redis.exceptions import RedisError

from services.ratelimit.envoy.stats import EnvoyStats
from tests.backends import missing_backend

from .harness import FakeClock, MemoryView, RedisView, StoreView

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFORMANCE = REPO_ROOT / ".." / "shared" / "conformance"


@pytest.fixture
def conformance_dir() -> Path:
    """envoyproxy/ratelimit's fixtures in the shared conformance data (never copied here).

    SWITCHBOARD_CONFORMANCE_DIR may name the conformance root or its `envoy-ratelimit` folder.
    """
    root = Path(os.environ.get("SWITCHBOARD_CONFORMANCE_DIR", DEFAULT_CONFORMANCE))
    directory = root if (root / "config").is_dir() else root / "envoy-ratelimit"
    if not (directory / "config").is_dir():
        missing_backend(f"no envoy-ratelimit conformance data at {directory}")
    return directory


@pytest.fixture
def config_dir(conformance_dir: Path) -> Path:
    return conformance_dir / "config"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1234)


@pytest.fixture
def stats() -> EnvoyStats:
    return EnvoyStats(CollectorRegistry())


@pytest.fixture(params=["memory", "redis"])
async def view(
    request: pytest.FixtureRequest, clock: FakeClock, key_prefix: str, redis_url: str
) -> AsyncIterator[StoreView]:
    """The same tests against the memory store and the real Redis store.

    The Redis client waits for a free connection instead of failing when its pool is busy
    (`BlockingConnectionPool`), as production should: the default pool refuses call 101.
    """
    if request.param == "memory":
        yield MemoryView(clock)
        return
    pool = aioredis.BlockingConnectionPool.from_url(
        redis_url, max_connections=32, timeout=5, socket_timeout=2, socket_connect_timeout=2
    )
    client = aioredis.Redis.from_pool(pool)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        await client.aclose()
        missing_backend(f"no Redis at {redis_url}: {exc}")
    yield RedisView(client, key_prefix)
    async for key in client.scan_iter(match=f"{key_prefix}*", count=500):
        await client.delete(key)
    await client.aclose()
