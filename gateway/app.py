"""Assembles the gateway's HTTP application from its settings.

This is the frame the gateway's routes hang on: health, metrics, the request size limit,
security headers and CORS. The OpenAI-compatible routes, the transcoded admin API and the API
documentation are mounted here as they land (see the gateway issue).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount

from gateway.downstream import Downstreams
from gateway.http.health import health_routes
from gateway.http.protection import ProtectionMiddleware
from gateway.settings import GatewaySettings


@dataclass
class Gateway:
    app: Starlette
    downstreams: Downstreams
    registry: CollectorRegistry


def build(settings: GatewaySettings, *, registry: CollectorRegistry | None = None) -> Gateway:
    registry = registry or CollectorRegistry()
    downstreams = Downstreams(
        {
            "ratelimit": settings.ratelimit_addr,
            "router": settings.router_addr,
            "cost": settings.cost_addr,
        },
        timeout_seconds=settings.ready_timeout_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await downstreams.aclose()

    middleware = [Middleware(ProtectionMiddleware, max_body_bytes=settings.max_body_bytes)]
    if settings.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.allowed_origins,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id", "retry-after"],
            )
        )
    routes = [*health_routes(downstreams), Mount("/metrics", make_asgi_app(registry))]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    return Gateway(app, downstreams, registry)
