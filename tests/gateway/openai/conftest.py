from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from svckit.testing import serving
from tests.gateway.openai.scripted_router import Front, ScriptedRouter, router_app
from tests.router.upstreams.serving import serve_upstream


@dataclass
class Served:
    base_url: str
    router: ScriptedRouter
    front: Front


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    """A scripted router over real gRPC and the wire-format front over real HTTP."""
    router = ScriptedRouter()
    async with serving(router_app(router)) as (_, channel):
        front = Front(pb_grpc.RouterServiceStub(channel))
        async with serve_upstream(front.app()) as base_url:
            yield Served(base_url, router, front)
