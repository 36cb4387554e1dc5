"""Fixtures of the flags service's tests: a migrated store on both databases (SQLite, the
embedded default, and PostgreSQL), a clock moved by hand, and the service served on port 0 in
both modes with stubs for each of its four gRPC services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2_grpc as v1_grpc
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2_grpc as v2_grpc
from openfeature.schemas.protobuf.flagd.sync.v1 import sync_pb2_grpc
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from switchboard.flags.v1 import flags_service_pb2_grpc as pb_grpc

from services.flags.app import FlagsService, build
from services.flags.database import create_engine, migrate
from services.flags.settings import FlagsSettings
from services.flags.store import FlagStore
from svckit.server import GrpcServer
from svckit.testing import serving

START = 1_795_780_800.0
"""2026-11-27 08:00:00 UTC, where the tests' clocks start."""


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/flags.db"


@pytest.fixture(params=["sqlite", "postgresql"])
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
def store(engine: AsyncEngine, clock: FakeClock) -> FlagStore:
    return FlagStore(engine, clock=clock)


@dataclass
class RunningFlags:
    service: FlagsService
    server: GrpcServer
    admin: pb_grpc.FlagsServiceStub
    v1: v1_grpc.ServiceStub
    v2: v2_grpc.ServiceStub
    sync: sync_pb2_grpc.FlagSyncServiceStub
    registry: CollectorRegistry

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


StartFlags = Callable[..., AbstractAsyncContextManager[RunningFlags]]


@pytest.fixture(params=["embedded", "shared"])
def flags_mode(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """The service's state: SQLite (embedded) or PostgreSQL (shared by replicas)."""
    if request.param == "embedded":
        return {"sqlite_path": tmp_path / "flags.sqlite3"}
    return {"database_url": request.getfixturevalue("postgres_url")}


@pytest.fixture
def start_flags(flags_mode: dict[str, Any], clock: FakeClock) -> StartFlags:
    """Serve the flags service; `background=False` (default) leaves rollouts to the test."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[RunningFlags]:
        values = {"grpc_host": "127.0.0.1", **flags_mode, **overrides}
        background = values.pop("background", False)
        use_clock = values.pop("clock", clock)
        registry = CollectorRegistry()
        service = build(
            FlagsSettings(**values), registry=registry, clock=use_clock, background=background
        )
        async with serving(service.app) as (server, channel):
            yield RunningFlags(
                service,
                server,
                pb_grpc.FlagsServiceStub(channel),
                v1_grpc.ServiceStub(channel),
                v2_grpc.ServiceStub(channel),
                sync_pb2_grpc.FlagSyncServiceStub(channel),
                registry,
            )

    return start
