"""Fixtures of the prompt registry's tests: the service on port 0 over SQLite (the embedded
default) or PostgreSQL (a fresh database per test), with a fast change poll so other replicas'
changes arrive quickly; and the registry without gRPC over the same two databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from services.prompts.app import PromptsService, build
from services.prompts.database import Database, migrate
from services.prompts.registry import Registry, utc_now
from services.prompts.settings import PromptsSettings
from svckit.server import GrpcServer
from svckit.testing import serving


@dataclass
class RunningPrompts:
    service: PromptsService
    server: GrpcServer
    stub: pb_grpc.PromptServiceStub
    channel: grpc.aio.Channel
    registry: CollectorRegistry
    settings: PromptsSettings

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


StartPrompts = Callable[..., AbstractAsyncContextManager[RunningPrompts]]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """Settings naming the registry's database: a SQLite file, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return {"sqlite_path": tmp_path / "prompts.sqlite3"}
    return {"database_url": request.getfixturevalue("postgres_url")}


@pytest.fixture
def start_prompts(database: dict[str, Any]) -> StartPrompts:
    """Serve a registry (another replica on the same database each time it is called)."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[RunningPrompts]:
        values = {"grpc_host": "127.0.0.1", "change_poll_seconds": 0.05, **database, **overrides}
        clock = values.pop("now", utc_now)
        registry = CollectorRegistry()
        settings = PromptsSettings(**values)
        service = build(settings, registry=registry, now=clock)
        async with serving(service.app) as (server, channel):
            stub = pb_grpc.PromptServiceStub(channel)
            yield RunningPrompts(service, server, stub, channel, registry, settings)

    return start


@pytest.fixture
async def prompts(start_prompts: StartPrompts) -> AsyncIterator[RunningPrompts]:
    async with start_prompts() as running:
        yield running


@pytest.fixture
async def registry(database: dict[str, Any]) -> AsyncIterator[Registry]:
    """The registry without gRPC, on a migrated database."""
    url = database.get("database_url") or f"sqlite+aiosqlite:///{database['sqlite_path']}"
    await migrate(url)
    db = Database(url)
    yield Registry(db)
    await db.dispose()
