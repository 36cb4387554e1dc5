"""Fixtures of the job tests: each suite runs against every backend of its protocol.

`store` runs on SQLite (a file in the test's tmp dir) and on PostgreSQL (a fresh database);
`queue_case` on the in-process queue and on Redis (under the test's key prefix). `queue_case`
also knows how to make deliveries look idle: the in-process queue's clock is moved by hand,
Redis's idle time is real, so there it sleeps the few tens of milliseconds asked for. Its
`restart` answers the queue a restarted router would have: an empty in-process queue, or a
Redis queue whose stream was lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.chat import ChatRequest, Choice, Completion, Message, Usage
from services.router.jobs.queue import InProcessJobQueue, JobQueue
from services.router.jobs.redis_queue import RedisJobQueue
from services.router.jobs.schema import create_engine, migrate
from services.router.jobs.store import JobStore

START = 1_736_164_800.0
"""2025-01-07 12:00:00 UTC, where the tests' clocks start."""


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def chat_request(text: str = "hello", model: str = "gpt-4o") -> ChatRequest:
    return ChatRequest(model=model, messages=(Message(role="user", content=text),))


def completion_for(request: ChatRequest, completion_id: str = "cmpl-1") -> Completion:
    """What the tests' `run` answers: the last message echoed back, so results are checkable."""
    return Completion(
        id=completion_id,
        choices=(Choice(0, Message("assistant", f"echo: {request.messages[-1].content}")),),
        usage=Usage(input_tokens=3, output_tokens=4),
        upstream_model=request.model,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/jobs.db"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database migrated to head."""
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine, clock: FakeClock) -> JobStore:
    return JobStore(engine, clock=clock)


@dataclass
class QueueCase:
    queue: JobQueue
    make_idle: Callable[[int], Awaitable[None]]
    """Makes every current delivery at least this many milliseconds idle."""
    kind: str
    restart: Callable[[], Awaitable[JobQueue]]
    """The queue after a restart: what the queue held is gone, the rows are not."""


@pytest.fixture(params=["memory", "redis"])
def queue_case(request: pytest.FixtureRequest, key_prefix: str) -> QueueCase:
    """Sync, so it may ask for the async `redis_client` by name (nothing to close: the
    in-process queue holds no resources and the Redis client is the fixture's)."""
    if request.param == "memory":
        queue_clock = FakeClock()

        async def advance(ms: int) -> None:
            queue_clock.advance(ms / 1000)

        async def fresh() -> JobQueue:
            return InProcessJobQueue(clock=queue_clock)

        case = QueueCase(InProcessJobQueue(clock=queue_clock), advance, "memory", fresh)
    else:
        client: aioredis.Redis = request.getfixturevalue("redis_client")

        async def wait(ms: int) -> None:
            await asyncio.sleep(ms / 1000)

        async def lost() -> JobQueue:
            queue = RedisJobQueue(client, key_prefix=key_prefix)
            await client.delete(queue.stream)  # our own prefix only
            return queue

        case = QueueCase(RedisJobQueue(client, key_prefix=key_prefix), wait, "redis", lost)
    return case
