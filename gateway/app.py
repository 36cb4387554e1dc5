"""Assembles the gateway's HTTP application from its settings.

The frame: health, metrics, the request size limit, security headers and CORS. On it:

- the OpenAI-compatible routes (`/v1/chat/completions`, `/v1/models`, `/v1/embeddings`) over
  the request pipeline (`gateway.pipeline`), and OFREP (`/ofrep/v1/evaluate/flags`) over the
  flag service;
- the admin API under `/admin`: the gateway's tenants and keys, and every annotated admin RPC
  of the rate-limit, cost, router, prompt and flag services, transcoded;
- the OpenAPI document (`/api/openapi.json`, `/api/openapi.yaml`) and its docs pages
  (`/api/docs`, `/api/redoc`).

Start-up (`Gateway.start`, run by the app's lifespan): the keys' database is migrated, then the
parts that talk gRPC are wired. They are wired there, not in `build`, because a grpc.aio
channel belongs to the event loop that serves. Shutdown
(`Gateway.aclose`) lets pending reconciliations finish, then closes channels and the database.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2_grpc as flagd_grpc
from prometheus_client import CollectorRegistry, make_asgi_app
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Router
from starlette.types import ASGIApp, Receive, Scope, Send
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc
from switchboard.flags.v1 import flags_service_pb2 as flags_pb
from switchboard.flags.v1 import flags_service_pb2_grpc as flags_grpc
from switchboard.prompts.v1 import prompts_service_pb2 as prompts_pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as prompts_grpc
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as rl_grpc
from switchboard.router.v1 import router_service_pb2 as router_pb
from switchboard.router.v1 import router_service_pb2_grpc as router_grpc

from gateway.downstream import Downstreams
from gateway.http.health import health_routes
from gateway.http.metrics import HttpMetrics, MetricsMiddleware
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
from gateway.pipeline.experiments import Experiments, ExposureCounter
from gateway.pipeline.prompts import StoredPrompts
from gateway.routes.admin_api import PREFIX as ADMIN_PREFIX
from gateway.routes.admin_api import TranscodedAdmin, identity_metadata
from gateway.routes.keys_api import KeysApi
from gateway.routes.ofrep_api import OfrepRoutes
from gateway.routes.openai_api import OpenAIRoutes
from gateway.routes.openapi_api import gateway_document, openapi_routes
from gateway.routes.tenant_data import StoredTenantData
from gateway.settings import GatewaySettings
from gateway.transcoding.http_rules import RouteTable, routes_of_services
from gateway.transcoding.proxy import TranscodingRouter
from svckit.secrets import EnvironmentSecrets, secrets_from_environment
from svckit.sql import create_engine

SERVICES = {
    "ratelimit": rl_pb.DESCRIPTOR.services_by_name["RateLimitService"],
    "cost": cost_pb.DESCRIPTOR.services_by_name["CostService"],
    "router": router_pb.DESCRIPTOR.services_by_name["RouterService"],
    "prompts": prompts_pb.DESCRIPTOR.services_by_name["PromptService"],
    "flags": flags_pb.DESCRIPTOR.services_by_name["FlagsService"],
}


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
    exposures: ExposureCounter | None = None
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Migrates the keys' database and wires the gRPC-backed routes (in the serving loop)."""
        if self.settings.embedded_database:
            Path(self.settings.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        await migrate(self.settings.key_database_url)
        self.wired.app = self._wire()
        if self.exposures is not None:
            flushing = self.exposures.run(self.settings.exposure_flush_seconds)
            self._background.append(asyncio.create_task(flushing))

    async def aclose(self) -> None:
        if self.pipeline is not None:
            await self.pipeline.drain()
        for task in self._background:  # a last flush of the exposures runs as they stop
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.downstreams.aclose()
        await self.keys.engine.dispose()

    def _wire(self) -> Router:
        settings, channel = self.settings, self.downstreams.channel
        router = router_grpc.RouterServiceStub(channel("router"))
        cost = cost_grpc.CostServiceStub(channel("cost"))
        ratelimit = rl_grpc.RateLimitServiceStub(channel("ratelimit"))
        catalogue = Catalogue(router, ttl_seconds=settings.catalogue_cache_seconds)
        self.exposures = ExposureCounter(flags_grpc.FlagsServiceStub(channel("flags")))
        self.pipeline = ChatPipeline(
            router,
            Admission(ratelimit, cost, clock=self.clock),
            catalogue,
            output_tokens_estimate=settings.output_tokens_estimate,
            timeout_seconds=settings.router_timeout_seconds,
            clock=self.clock,
            prompts=StoredPrompts(
                prompts_grpc.PromptServiceStub(channel("prompts")),
                timeout_seconds=settings.prompt_timeout_seconds,
            ),
            experiments=Experiments(
                flagd_grpc.ServiceStub(channel("flags")),
                settings.experiment_flag_keys,
                self.exposures,
                selector=settings.flag_selector,
                timeout_seconds=settings.flag_timeout_seconds,
            ),
        )
        auth = Authenticator(self.key_lookup)
        openai = OpenAIRoutes(auth, self.pipeline, catalogue, created=int(self.clock()))
        ofrep = OfrepRoutes(
            auth,
            flagd_grpc.ServiceStub(channel("flags")),
            selector=settings.flag_selector,
            timeout_seconds=settings.ofrep_timeout_seconds,
        )
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
        routes = [*openai.routes(), *ofrep.routes()]
        return Router(routes=[*routes, AnyPathMount(ADMIN_PREFIX, routes=admin_routes)])


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
            "prompts": settings.prompts_addr,
            "flags": settings.flags_addr,
        },
        timeout_seconds=settings.ready_timeout_seconds,
    )
    source = secrets or secrets_from_environment("GATEWAY", os.environ)
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

    middleware = [
        Middleware(MetricsMiddleware, metrics=HttpMetrics(registry)),
        Middleware(ProtectionMiddleware, max_body_bytes=settings.max_body_bytes),
    ]
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
