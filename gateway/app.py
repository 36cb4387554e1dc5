"""Assembles the gateway's HTTP application from its settings.

The frame: health, metrics, the request size limit, security headers and CORS. On it:

- the OpenAI-compatible routes (`/v1/chat/completions`, `/v1/models`, `/v1/embeddings`) over
  the request pipeline (`gateway.pipeline`);
- the admin API under `/admin`: the gateway's tenants and keys, and every annotated admin RPC
  of the rate-limit, cost and router services, transcoded;
- the OpenAPI document (`/api/openapi.json`, `/api/openapi.yaml`) and its docs pages
  (`/api/docs`, `/api/redoc`).

Start-up (`Gateway.start`, run by the app's lifespan): the keys' database is migrated, then the
parts that talk gRPC are wired. They are wired there, not in `build`, because a grpc.aio
channel belongs to the event loop that serves. Shutdown
(`Gateway.aclose`) lets pending reconciliations finish, then closes channels and the database.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as rl_grpc
from switchboard.router.v1 import router_service_pb2 as router_pb
from switchboard.router.v1 import router_service_pb2_grpc as router_grpc

from gateway.downstream import Downstreams
from gateway.http.health import health_routes
from gateway.http.mount import AnyPathMount
from gateway.http.protection import ProtectionMiddleware
from gateway.keys.cache import CachedKeyLookup
from gateway.keys.hashing import KeyHasher, SecretSource, pepper_from
from gateway.keys.store import KeyStore
from gateway.migrations import migrate
from gateway.pipeline.admission import Admission
from gateway.pipeline.auth import Authenticator
from gateway.pipeline.catalogue import Catalogue
from gateway.pipeline.chat import ChatPipeline
from gateway.routes.admin_api import PREFIX as ADMIN_PREFIX
from gateway.routes.admin_api import TranscodedAdmin, identity_metadata
from gateway.routes.keys_api import KeysApi
from gateway.routes.openai_api import OpenAIRoutes
from gateway.routes.openapi_api import gateway_document, openapi_routes
from gateway.routes.tenant_data import StoredTenantData
from gateway.settings import GatewaySettings
from gateway.transcoding.http_rules import RouteTable, routes_of_services
from gateway.transcoding.proxy import TranscodingRouter
from svckit.sql import create_engine

SERVICES = {
    "ratelimit": rl_pb.DESCRIPTOR.services_by_name["RateLimitService"],
    "cost": cost_pb.DESCRIPTOR.services_by_name["CostService"],
    "router": router_pb.DESCRIPTOR.services_by_name["RouterService"],
}


class EnvironmentSecrets:
    """Secrets from the environment (Vault joins later behind the same `get`)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        return self._environ.get(name) or None


class Deferred:
    """An ASGI app wired at start-up; until then its routes do not exist (404). Only an app
    served without its lifespan sees that: uvicorn accepts no request before start-up ends."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            body = {"error": {"message": "not found", "type": "invalid_request_error"}}
            await JSONResponse(body, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass
class Gateway:
    app: Starlette
    downstreams: Downstreams
    registry: CollectorRegistry
    settings: GatewaySettings
    keys: KeyStore
    key_lookup: CachedKeyLookup
    route_table: RouteTable
    clock: Callable[[], float] = time.time
    wired: Deferred = field(default_factory=Deferred)
    pipeline: ChatPipeline | None = None

    async def start(self) -> None:
        """Migrates the keys' database and wires the gRPC-backed routes (in the serving loop)."""
        if self.settings.embedded_database:
            Path(self.settings.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        await migrate(self.settings.key_database_url)
        self.wired.app = self._wire()

    async def aclose(self) -> None:
        if self.pipeline is not None:
            await self.pipeline.drain()
        await self.downstreams.aclose()
        await self.keys.engine.dispose()

    def _wire(self) -> Router:
        settings, channel = self.settings, self.downstreams.channel
        router = router_grpc.RouterServiceStub(channel("router"))
        cost = cost_grpc.CostServiceStub(channel("cost"))
        ratelimit = rl_grpc.RateLimitServiceStub(channel("ratelimit"))
        catalogue = Catalogue(router, ttl_seconds=settings.catalogue_cache_seconds)
        self.pipeline = ChatPipeline(
            router,
            Admission(ratelimit, cost, clock=self.clock),
            catalogue,
            output_tokens_estimate=settings.output_tokens_estimate,
            timeout_seconds=settings.router_timeout_seconds,
            clock=self.clock,
        )
        auth = Authenticator(self.key_lookup)
        openai = OpenAIRoutes(auth, self.pipeline, catalogue, created=int(self.clock()))
        channels = {SERVICES[name].full_name: channel(name) for name in SERVICES}
        proxy = TranscodingRouter(
            self.route_table,
            channels,
            metadata_for=identity_metadata,
            timeout_seconds=settings.admin_timeout_seconds,
        )
        admin = TranscodedAdmin(auth, proxy, StoredTenantData(self.keys, cost))
        keys_api = KeysApi(auth, self.keys, self.key_lookup)
        admin_routes: list[BaseRoute] = [*keys_api.routes(), AnyPathMount("", app=admin)]
        return Router(routes=[*openai.routes(), AnyPathMount(ADMIN_PREFIX, routes=admin_routes)])


def build(
    settings: GatewaySettings,
    *,
    registry: CollectorRegistry | None = None,
    secrets: SecretSource | None = None,
    clock: Callable[[], float] = time.time,
) -> Gateway:
    """The gateway for `settings`; raises `PepperMissing` when a shared database has no pepper."""
    registry = registry or CollectorRegistry()
    downstreams = Downstreams(
        {
            "ratelimit": settings.ratelimit_addr,
            "router": settings.router_addr,
            "cost": settings.cost_addr,
        },
        timeout_seconds=settings.ready_timeout_seconds,
    )
    source = secrets or EnvironmentSecrets(os.environ)
    pepper = pepper_from(
        source, settings.key_pepper_secret_name, embedded=settings.embedded_database
    )
    keys = KeyStore(create_engine(settings.key_database_url), KeyHasher(pepper), clock=clock)
    lookup = CachedKeyLookup(keys, ttl_seconds=settings.key_cache_seconds, clock=clock)
    table = routes_of_services(SERVICES.values())
    deferred = Deferred()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.aclose()

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
    routes: list[BaseRoute] = [
        *health_routes(downstreams),
        Mount("/metrics", make_asgi_app(registry)),
        *openapi_routes(gateway_document(table, ADMIN_PREFIX)),
        AnyPathMount("", app=deferred),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    gateway = Gateway(app, downstreams, registry, settings, keys, lookup, table, clock, deferred)
    return gateway


__all__ = ["SERVICES", "Deferred", "EnvironmentSecrets", "Gateway", "build"]
