"""Fixtures of the router's service tests: fake upstreams over real HTTP, and the router served
on port 0 in its two modes (embedded: memory + SQLite; shared: Redis + PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from services.router.app import RouterService, build
from services.router.settings import RouterSettings
from svckit.server import GrpcServer
from svckit.testing import serving

from .upstreams.anthropic_fake import fake_anthropic_app
from .upstreams.control import FakeUpstreamControl
from .upstreams.openai_fake import fake_openai_app
from .upstreams.serving import serve_upstream


@dataclass
class Upstream:
    control: FakeUpstreamControl
    base_url: str


@dataclass
class RunningRouter:
    service: RouterService
    server: GrpcServer
    stub: pb_grpc.RouterServiceStub
    registry: CollectorRegistry
    settings: RouterSettings

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


StartRouter = Callable[..., AbstractAsyncContextManager[RunningRouter]]


@pytest.fixture
async def openai_upstream() -> AsyncIterator[Upstream]:
    control = FakeUpstreamControl(seed=1)
    async with serve_upstream(fake_openai_app(control)) as base_url:
        yield Upstream(control, base_url)


@pytest.fixture
async def anthropic_upstream() -> AsyncIterator[Upstream]:
    control = FakeUpstreamControl(seed=2)
    async with serve_upstream(fake_anthropic_app(control)) as base_url:
        yield Upstream(control, base_url)


@pytest.fixture(params=["embedded", "shared"])
def router_mode(request: pytest.FixtureRequest, tmp_path: Path, key_prefix: str) -> dict[str, Any]:
    """Settings of the router's state: in process with SQLite, or Redis with PostgreSQL."""
    if request.param == "embedded":
        return {"sqlite_path": tmp_path / "router.sqlite3"}
    redis_url: str = request.getfixturevalue("redis_available")
    database_url: str = request.getfixturevalue("postgres_url")
    return {"redis_url": redis_url, "key_prefix": key_prefix, "database_url": database_url}


@pytest.fixture
def start_router(router_mode: dict[str, Any], tmp_path: Path) -> StartRouter:
    """Serve a router whose catalogue is `catalogue` (YAML text), with fast retries."""
    started = {"count": 0}

    @asynccontextmanager
    async def start(catalogue: str, **overrides: Any) -> AsyncIterator[RunningRouter]:
        started["count"] += 1
        models = tmp_path / f"models-{started['count']}.yaml"
        models.write_text(catalogue)
        values: dict[str, Any] = {
            "grpc_host": "127.0.0.1",
            "models_file": models,
            "retry_base_delay_seconds": 0.001,
            "retry_max_delay_seconds": 0.005,
            "faults_enabled": True,
            "job_claim_idle_seconds": 1.0,
            **router_mode,
            **overrides,
        }
        environ = values.pop("environ", {})
        registry = CollectorRegistry()
        settings = RouterSettings(**values)
        service = build(settings, environ=environ, registry=registry)
        async with serving(service.app) as (server, channel):
            stub = pb_grpc.RouterServiceStub(channel)
            yield RunningRouter(service, server, stub, registry, settings)

    return start


def openai_deployment(name: str, upstream: Upstream, **extra: Any) -> str:
    fields = {
        "name": name,
        "provider": "openai",
        "upstream_model": f"{name}-model",
        "base_url": upstream.base_url,
        "timeout_seconds": 5,
        "max_retries": 1,
        **extra,
    }
    return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def catalogue(model: str, *deployments: str, strategy: str = "ordered") -> str:
    rows = "\n".join(f"      - {d}" for d in deployments)
    return f"models:\n  {model}:\n    strategy: {strategy}\n    deployments:\n{rows}\n"
