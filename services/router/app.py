"""Assembles the router from its settings: providers, breakers, cache, usage events, jobs.

`build(settings)` returns the parts with the `ServiceApp` the service kit serves; `__main__`
runs it, tests serve it on port 0.

    ROUTER_REDIS_URL set    breakers, cache, usage events and the job queue in Redis, shared by
                            every replica
    ROUTER_REDIS_URL empty  all of them in this process (the embedded default); usage events
                            go to the cost service's RecordUsage when ROUTER_COST_ADDR is set
    ROUTER_DATABASE_URL     jobs in PostgreSQL (postgresql+asyncpg://...); empty: SQLite at
                            ROUTER_SQLITE_PATH. Migrations run at start-up.

Each process runs a job worker (`ROUTER_JOB_WORKERS` jobs at once, 0 for none) consuming the
shared queue as `<host>-<pid>`, so a crashed replica's jobs are claimed by the others after
`ROUTER_JOB_CLAIM_IDLE_SECONDS`, and every `ROUTER_JOB_RECOVER_INTERVAL_SECONDS` (and at start)
enqueues again the jobs SQL holds that the queue lost (a restart of the in-process queue).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from services.router.breaker import BreakerPolicy, BreakerStore, CircuitBreakers
from services.router.breaker_metrics import BreakerMetrics
from services.router.catalogue import Catalogue, CatalogueFile
from services.router.chat import ChatRequest, Completion
from services.router.cost_usage_sink import CostUsageSink
from services.router.deployment_stats import DeploymentStats
from services.router.fallback import FallbackChain
from services.router.faults import FaultInjector
from services.router.genai_telemetry import GenAiMetrics
from services.router.jobs.queue import InProcessJobQueue, JobQueue
from services.router.jobs.redis_queue import RedisJobQueue
from services.router.jobs.schema import create_engine, migrate
from services.router.jobs.service import JobService
from services.router.jobs.store import JobStore
from services.router.jobs.webhook import WebhookSender
from services.router.jobs.worker import JobWorker
from services.router.memory_breaker_store import MemoryBreakerStore
from services.router.memory_response_cache import MemoryResponseCache
from services.router.memory_usage_sink import MemoryUsageSink
from services.router.providers.mock import validate_mock_options
from services.router.providers.registry import KEEPALIVE_EXPIRY_SECONDS, ProviderRegistry
from services.router.redis_breaker_store import RedisBreakerStore
from services.router.redis_response_cache import RedisResponseCache
from services.router.redis_usage_sink import RedisUsageSink, StreamSettings
from services.router.response_cache import CacheMetrics, CachePolicy, ResponseCache, RouterCache
from services.router.retry import RetryPolicy
from services.router.router import Router
from services.router.secrets import SecretSource, secrets_from_environment
from services.router.servicer import SERVICE_NAME, RouterServicer
from services.router.settings import RouterSettings
from services.router.usage_events import UsageMetrics, UsageSink
from services.router.usage_recorder import UsageRecorder
from svckit.health import Probe
from svckit.redis_client import pooled_redis, redis_probe
from svckit.server import Registration, ServiceApp
from svckit.sql import database_probe

log = logging.getLogger(__name__)

JOB_BLOCK_MS = 1000
WORKER_STOP_TIMEOUT = 30.0


@dataclass
class RouterService:
    """The assembled service; the parts are exposed for tests and the entry point."""

    app: ServiceApp
    router: Router
    breakers: CircuitBreakers
    usage: UsageSink
    jobs: JobService
    worker: JobWorker | None
    catalogue: CatalogueFile
    providers: ProviderRegistry


def validate_catalogue(catalogue: Catalogue) -> list[str]:
    """Provider-specific checks the catalogue's own schema cannot make."""
    return [
        f"models.{model}.deployments.{d.name}.options: {problem}"
        for model, d in catalogue.deployments()
        if d.provider == "mock"
        for problem in validate_mock_options(d.options)
    ]


def build(
    settings: RouterSettings,
    *,
    environ: dict[str, str] | None = None,
    registry: CollectorRegistry | None = None,
    providers: ProviderRegistry | None = None,
    clock: Callable[[], float] = time.time,
) -> RouterService:
    """Wire the service; raises `CatalogueError` when the catalogue file is bad."""
    registry = registry or CollectorRegistry()
    secrets = secrets_from_environment(
        "ROUTER", os.environ if environ is None else environ, clock=clock
    )
    catalogue = CatalogueFile(settings.models_file, validate_catalogue)
    providers = providers or ProviderRegistry(limits=_http_limits(settings.http_max_connections))
    parts = _Backends.of(settings, registry)
    breakers = CircuitBreakers(
        parts.breaker_store, _breaker_policy(settings), clock, BreakerMetrics(registry)
    )
    stats = DeploymentStats()
    faults = FaultInjector(enabled=settings.faults_enabled)
    metrics = GenAiMetrics(registry)
    chain = FallbackChain(
        breakers=breakers,
        retry=RetryPolicy(
            base_delay_seconds=settings.retry_base_delay_seconds,
            max_delay_seconds=settings.retry_max_delay_seconds,
            max_retry_after_seconds=settings.max_retry_after_seconds,
        ),
        faults=faults,
        secrets=secrets,
        stats=stats,
        metrics=metrics,
    )
    cache = RouterCache(parts.cache, _cache_policy(settings), parts.cache_metrics)
    router = Router(
        catalogue=lambda: catalogue.current,
        providers=providers,
        chain=chain,
        responses=cache,
        usage=UsageRecorder(parts.usage),
        metrics=metrics,
        stats=stats,
    )
    engine = create_engine(_database_url(settings))
    store = JobStore(engine)
    webhook = _webhook_sender(secrets, settings.webhook_secret_name)

    async def run_job(request: ChatRequest) -> Completion:
        return (await router.complete(request)).completion

    worker = (
        JobWorker(
            store,
            parts.job_queue,
            run_job,
            consumer_name=f"{socket.gethostname()}-{os.getpid()}",
            concurrency=settings.job_workers,
            claim_idle_ms=round(settings.job_claim_idle_seconds * 1000),
            recover_interval_ms=round(settings.job_recover_interval_seconds * 1000),
            block_ms=JOB_BLOCK_MS,
            webhook=webhook,
        )
        if settings.job_workers
        else None
    )
    jobs = JobService(
        store, parts.job_queue, webhook=webhook, abort_local=worker.abort if worker else None
    )
    servicer = RouterServicer(
        router=router,
        catalogue=catalogue,
        breakers=breakers,
        stats=stats,
        faults=faults,
        max_cache_ttl_seconds=settings.cache_max_ttl_seconds,
        jobs=jobs,
    )
    lifecycle = _Lifecycle(settings, engine, worker, parts, providers, webhook)
    dependencies: dict[str, Probe] = {"database": database_probe(engine)}
    if parts.redis is not None:
        dependencies["redis"] = redis_probe(parts.redis)
    app = ServiceApp(
        name="router",
        registrations=[
            Registration(
                SERVICE_NAME,
                lambda server: pb_grpc.add_RouterServiceServicer_to_server(servicer, server),
            )
        ],
        registry=registry,
        dependencies=dependencies,
        probe_interval=settings.health_probe_interval_seconds,
        on_start=[lifecycle.start],
        on_stop=[lifecycle.stop],
    )
    return RouterService(app, router, breakers, parts.usage, jobs, worker, catalogue, providers)


@dataclass
class _Backends:
    """The state the router shares: in Redis, or in this process."""

    redis: aioredis.Redis | None
    queue_redis: aioredis.Redis | None
    breaker_store: BreakerStore
    cache: ResponseCache
    cache_metrics: CacheMetrics
    usage: UsageSink
    job_queue: JobQueue

    @classmethod
    def of(cls, settings: RouterSettings, registry: CollectorRegistry) -> _Backends:
        cache_metrics = CacheMetrics(registry)
        usage_metrics = UsageMetrics(registry)
        if not settings.redis_url:
            usage: UsageSink = (
                CostUsageSink(
                    settings.cost_addr, usage_metrics, buffer_size=settings.usage_buffer_size
                )
                if settings.cost_addr
                else MemoryUsageSink(usage_metrics, max_events=settings.usage_buffer_size)
            )
            return cls(
                None,
                None,
                MemoryBreakerStore(),
                MemoryResponseCache(settings.cache_max_entries),
                cache_metrics,
                usage,
                InProcessJobQueue(),
            )
        prefix = settings.key_prefix
        client = pooled_redis(settings.redis_url, timeout_seconds=settings.redis_timeout_seconds)
        # Workers block on XREADGROUP: their client waits longer than the block time.
        queue_client = pooled_redis(
            settings.redis_url,
            timeout_seconds=settings.redis_timeout_seconds,
            socket_timeout_seconds=JOB_BLOCK_MS / 1000 + 5,
            pool_size=8,
        )
        stream = StreamSettings(
            stream=f"{prefix}usage",
            max_stream_length=settings.usage_stream_max_length,
            buffer_size=settings.usage_buffer_size,
        )
        return cls(
            client,
            queue_client,
            RedisBreakerStore(
                client, key_prefix=prefix, timeout_seconds=settings.redis_timeout_seconds
            ),
            RedisResponseCache(client, cache_metrics, key_prefix=prefix),
            cache_metrics,
            RedisUsageSink(client, usage_metrics, stream),
            RedisJobQueue(queue_client, key_prefix=prefix),
        )


class _Lifecycle:
    """Migrates and starts the worker; on the way out stops it and releases everything."""

    def __init__(
        self,
        settings: RouterSettings,
        engine: AsyncEngine,
        worker: JobWorker | None,
        parts: _Backends,
        providers: ProviderRegistry,
        webhook: WebhookSender | None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._worker = worker
        self._parts = parts
        self._providers = providers
        self._webhook = webhook
        self._worker_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        url = _database_url(self._settings)
        if url.startswith("sqlite"):
            self._settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        await migrate(url)
        if self._worker is not None:
            self._worker_task = asyncio.create_task(self._worker.run_forever())

    async def stop(self) -> None:
        """Stop taking jobs and finish those in hand; flush usage; close every client."""
        if self._worker is not None and self._worker_task is not None:
            self._worker.stop()
            done, _ = await asyncio.wait([self._worker_task], timeout=WORKER_STOP_TIMEOUT)
            if not done:
                log.error("the job worker did not stop in time; its jobs will be claimed")
                self._worker_task.cancel()
        closers: list[Callable[[], Awaitable[None]]] = [
            self._parts.usage.aclose,
            self._providers.aclose,
            self._engine.dispose,
        ]
        if self._webhook is not None:
            closers.append(self._webhook.aclose)
        for client in (self._parts.redis, self._parts.queue_redis):
            if client is not None:
                closers.append(client.aclose)
        for close in closers:
            try:
                await close()
            except Exception:  # one failing close must not keep the others open
                log.warning("closing %s failed", close, exc_info=True)


def _database_url(settings: RouterSettings) -> str:
    return settings.database_url or f"sqlite+aiosqlite:///{settings.sqlite_path}"


def _breaker_policy(settings: RouterSettings) -> BreakerPolicy:
    return BreakerPolicy(
        window_seconds=settings.breaker_window_seconds,
        min_calls=settings.breaker_min_calls,
        failure_rate_threshold=settings.breaker_failure_rate,
        consecutive_failures=settings.breaker_consecutive_failures,
        open_seconds=settings.breaker_open_seconds,
    )


def _cache_policy(settings: RouterSettings) -> CachePolicy:
    return CachePolicy(
        default_ttl_seconds=settings.cache_default_ttl_seconds,
        max_ttl_seconds=settings.cache_max_ttl_seconds,
        shared_across_tenants=settings.cache_shared_across_tenants,
    )


def _webhook_sender(secrets: SecretSource, name: str) -> WebhookSender | None:
    """A sender reading the secret on each delivery (rotation needs no restart); None while the
    secret is unset, so jobs asking for a webhook are refused rather than sent unsigned."""
    if not name or secrets.get(name) is None:
        return None
    return WebhookSender(lambda: secrets.get(name) or "")


def _http_limits(max_connections: int) -> httpx.Limits:
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )
