"""Fixtures of the cost service's tests: the service on port 0 in its two modes (embedded:
SQLite + memory; shared: PostgreSQL + Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.cost.app import CostService, build
from services.cost.settings import CostSettings
from svckit.testing import serving


@dataclass
class RunningCost:
    service: CostService
    stub: pb_grpc.CostServiceStub
    registry: CollectorRegistry
    settings: CostSettings

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


StartCost = Callable[..., AbstractAsyncContextManager[RunningCost]]


@pytest.fixture(params=["embedded", "shared"])
def cost_mode(request: pytest.FixtureRequest, tmp_path: Path, key_prefix: str) -> dict[str, Any]:
    if request.param == "embedded":
        return {"sqlite_path": tmp_path / "cost.sqlite3"}
    redis_url: str = request.getfixturevalue("redis_available")
    database_url: str = request.getfixturevalue("postgres_url")
    return {
        "redis_url": redis_url,
        "key_prefix": key_prefix,
        "database_url": database_url,
        "usage_stream": f"{key_prefix}usage",
    }


@pytest.fixture
def start_cost(cost_mode: dict[str, Any]) -> StartCost:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[RunningCost]:
        values = {"grpc_host": "127.0.0.1", **cost_mode, **overrides}
        environ = values.pop("environ", {})
        registry = CollectorRegistry()
        settings = CostSettings(**values)
        service = build(settings, environ=environ, registry=registry)
        async with serving(service.app) as (_, channel):
            yield RunningCost(service, pb_grpc.CostServiceStub(channel), registry, settings)

    return start
