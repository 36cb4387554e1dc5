"""Fixtures shared by every test: real backends, named after what they give.

Redis tests use the server at SWITCHBOARD_TEST_REDIS_URL (default redis://127.0.0.1:6379/0),
each test under its own key prefix so runs never see each other's counters. PostgreSQL tests get
a fresh database of their own on the server at SWITCHBOARD_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres, the maintenance database), dropped afterwards.
Where no server answers the tests skip with the reason, unless SWITCHBOARD_REQUIRE_BACKENDS=1
(set by CI and `make test`), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.backends import missing_backend
from tests.redis_server import RedisServer

REDIS_URL = os.environ.get("SWITCHBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get(
    "SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


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


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for this test, as an async SQLAlchemy URL
    (`postgresql+asyncpg://...`); dropped afterwards, even if connections are still open."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    await _postgres_admin(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name)
    yield url.render_as_string(hide_password=False)
    await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _postgres_admin(statement: str) -> None:
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(
        url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 2}, poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    except (OSError, TimeoutError, sa_exc.DBAPIError) as exc:
        missing_backend(f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {type(exc).__name__}")
    finally:
        await engine.dispose()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, which the test may stop and start again."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.close()
