"""The gateway's HTTP frame over a real loopback socket: health follows the real services'
gRPC health, bodies are limited (declared or streamed), security headers on every answer,
CORS only for configured origins, metrics served."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.app import build
from gateway.http.protection import ProtectionMiddleware
from gateway.settings import GatewaySettings
from services.ratelimit.app import build as build_ratelimit
from services.ratelimit.settings import load as load_ratelimit
from svckit.testing import serving
from tests.ports import free_port
from tests.router.upstreams.serving import serve_upstream

LIMIT = 2048


@pytest.fixture
async def ratelimit_address() -> AsyncIterator[str]:
    service = build_ratelimit(load_ratelimit({}))
    async with serving(service.app) as (server, _):
        yield f"127.0.0.1:{server.port}"


async def test_ready_only_while_every_service_answers_serving(ratelimit_address: str) -> None:
    down = f"127.0.0.1:{free_port()}"
    up = ratelimit_address
    settings = GatewaySettings(
        ratelimit_addr=up, router_addr=up, cost_addr=down, prompts_addr=up, flags_addr=up
    )
    gateway = build(settings)
    async with serve_upstream(gateway.app) as base, httpx.AsyncClient() as http:
        origin = base.removesuffix("/v1")
        live = await http.get(f"{origin}/health/live")
        ready = await http.get(f"{origin}/health/ready")
    assert live.status_code == 200
    assert ready.status_code == 503
    expected = {"cost": False, "ratelimit": True, "router": True, "prompts": True, "flags": True}
    assert ready.json()["services"] == expected
    assert ready.headers["x-content-type-options"] == "nosniff"


async def test_all_services_serving_means_ready(ratelimit_address: str) -> None:
    address = ratelimit_address  # one real service stands in for all of them
    settings = GatewaySettings(
        ratelimit_addr=address,
        router_addr=address,
        cost_addr=address,
        prompts_addr=address,
        flags_addr=address,
    )
    gateway = build(settings)
    async with serve_upstream(gateway.app) as base, httpx.AsyncClient() as http:
        ready = await http.get(f"{base.removesuffix('/v1')}/health/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def echo_app() -> ProtectionMiddleware:
    """A route that reads its body, behind the gateway's protection."""

    async def echo(request: Request) -> Response:
        return Response(await request.body())

    return ProtectionMiddleware(
        Starlette(routes=[Route("/echo", echo, methods=["POST"])]), max_body_bytes=LIMIT
    )


async def test_bodies_over_the_limit_are_refused_declared_or_streamed() -> None:
    async with serve_upstream(echo_app()) as base, httpx.AsyncClient() as http:
        url = f"{base.removesuffix('/v1')}/echo"
        declared = await http.post(url, content=b"x" * (LIMIT + 1))

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"y" * (LIMIT // 2)

        streamed = await http.post(url, content=chunks())
        small = await http.post(url, content=b"z" * LIMIT)
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "request_too_large"
        assert refused.headers["x-frame-options"] == "DENY"
    assert (small.status_code, small.content) == (200, b"z" * LIMIT)


async def test_cors_answers_configured_origins_only() -> None:
    gateway = build(GatewaySettings(cors_origins="https://app.example, https://admin.example"))
    async with serve_upstream(gateway.app) as base, httpx.AsyncClient() as http:
        origin = base.removesuffix("/v1")
        preflight = {"access-control-request-method": "POST"}
        allowed = await http.options(
            f"{origin}/health/live", headers={"origin": "https://app.example", **preflight}
        )
        other = await http.options(
            f"{origin}/health/live", headers={"origin": "https://evil.example", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


async def test_metrics_are_served_and_unknown_paths_are_404() -> None:
    gateway = build(GatewaySettings())
    async with serve_upstream(gateway.app) as base, httpx.AsyncClient() as http:
        origin = base.removesuffix("/v1")
        metrics = await http.get(f"{origin}/metrics/")
        missing = await http.get(f"{origin}/nowhere")
    assert metrics.status_code == 200
    assert missing.status_code == 404
