"""Assembles the rate-limit service from its settings: stores, limiter, Envoy API, health.

`build(settings)` returns the parts, with the `ServiceApp` the service kit serves; `__main__`
runs it, tests serve it on port 0. One port carries both APIs:
`switchboard.ratelimit.v1.RateLimitService` (tier quotas) and Envoy's
`envoy.service.ratelimit.v3.RateLimitService`.

Envoy descriptors: with `RATELIMIT_ENVOY_CONFIG_DIR` set, the directory is loaded at start-up
and watched; a bad or missing initial config does not stop the service (the tier quotas keep
working), ShouldRateLimit answers FAILED_PRECONDITION until a valid config arrives.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as pb_grpc

from services.ratelimit.envoy.counters import CounterStore, MemoryCounterStore
from services.ratelimit.envoy.decision import RateLimitDecider
from services.ratelimit.envoy.options import EnvoyOptions
from services.ratelimit.envoy.redis_counters import RedisCounterStore
from services.ratelimit.envoy.reload import ConfigReloader
from services.ratelimit.envoy.servicer import EnvoyRateLimitServicer
from services.ratelimit.envoy.stats import EnvoyStats
from services.ratelimit.limiter import FailureMode, Limiter
from services.ratelimit.memory_quota_store import MemoryQuotaStore
from services.ratelimit.quota_metrics import QuotaMetrics
from services.ratelimit.quota_servicer import SERVICE_NAME, QuotaServicer
from services.ratelimit.quota_store import QuotaStore
from services.ratelimit.redis_quota_store import RedisQuotaStore
from services.ratelimit.settings import RateLimitSettings
from services.ratelimit.tiers import load_tiers
from services.ratelimit.windows import Clock
from svckit.health import Probe
from svckit.redis_client import pooled_redis, redis_probe
from svckit.server import Registration, ServiceApp

log = logging.getLogger(__name__)

ENVOY_SERVICE_NAME = "envoy.service.ratelimit.v3.RateLimitService"


@dataclass
class RateLimitService:
    """The assembled service; the parts are exposed for tests and the entry point."""

    app: ServiceApp
    limiter: Limiter
    decider: RateLimitDecider
    reloader: ConfigReloader | None
    redis_clients: list[aioredis.Redis] = field(default_factory=list)


def redis_client(url: str, settings: RateLimitSettings) -> aioredis.Redis:
    """A pooled client that fails fast (`svckit.redis_client`): a down Redis must not hold
    calls for long, and a burst queues for a connection rather than tripping the failure mode."""
    return pooled_redis(
        url,
        timeout_seconds=settings.redis_timeout_seconds,
        pool_size=settings.redis_pool_size,
        pool_timeout_seconds=settings.redis_pool_timeout_seconds,
    )


def _envoy_options(settings: RateLimitSettings) -> EnvoyOptions:
    return EnvoyOptions(
        shadow_mode=settings.envoy_shadow_mode,
        response_headers_enabled=settings.envoy_response_headers_enabled,
        header_limit=settings.envoy_header_limit,
        header_remaining=settings.envoy_header_remaining,
        header_reset=settings.envoy_header_reset,
        near_limit_ratio=settings.envoy_near_limit_ratio,
        expiration_jitter_max_seconds=settings.envoy_expiration_jitter_max_seconds,
        cache_key_prefix=settings.envoy_cache_key_prefix,
        local_cache_max_entries=settings.envoy_local_cache_max_entries,
        merge_domain_config=settings.envoy_merge_domain_config,
        quota_mode=settings.envoy_quota_mode,
    )


def build(
    settings: RateLimitSettings,
    *,
    clock: Clock = time.time,
    registry: CollectorRegistry | None = None,
) -> RateLimitService:
    """Wire the service; raises `TiersFileError` when the tiers file is bad."""
    registry = registry or CollectorRegistry()
    tiers = load_tiers(settings.tiers_file)
    clients: list[aioredis.Redis] = []
    dependencies: dict[str, Probe] = {}
    quota_store: QuotaStore
    counters: CounterStore
    per_second: CounterStore | None = None
    if settings.redis_url:
        main = redis_client(settings.redis_url, settings)
        clients.append(main)
        dependencies["redis"] = redis_probe(main)
        quota_store = RedisQuotaStore(main, key_prefix=settings.key_prefix)
        counters = RedisCounterStore(main, key_prefix=settings.key_prefix + "envoy:")
    else:
        quota_store = MemoryQuotaStore()
        counters = MemoryCounterStore(clock)
    if settings.redis_persecond_url:
        second = redis_client(settings.redis_persecond_url, settings)
        clients.append(second)
        dependencies["redis_persecond"] = redis_probe(second)
        per_second = RedisCounterStore(second, key_prefix=settings.key_prefix + "envoy:")

    limiter = Limiter(
        quota_store,
        tiers,
        clock=clock,
        reservation_ttl=settings.reservation_ttl_seconds,
        failure_mode=FailureMode(settings.failure_mode),
        metrics=QuotaMetrics(registry),
        override_cache_seconds=settings.override_cache_seconds,
    )
    stats = EnvoyStats(registry)
    reloader = (
        ConfigReloader(
            Path(settings.envoy_config_dir), stats, merge_domains=settings.envoy_merge_domain_config
        )
        if settings.envoy_config_dir
        else None
    )
    decider = RateLimitDecider(
        config=reloader.current if reloader else lambda: None,
        store=counters,
        per_second_store=per_second,
        stats=stats,
        options=_envoy_options(settings),
        clock=clock,
        jitter=random.Random(),
    )
    quota = QuotaServicer(limiter)
    envoy = EnvoyRateLimitServicer(decider)
    lifecycle = _Lifecycle(reloader, clients)
    app = ServiceApp(
        name="ratelimit",
        registrations=[
            Registration(
                SERVICE_NAME,
                lambda server: pb_grpc.add_RateLimitServiceServicer_to_server(quota, server),
            ),
            Registration(ENVOY_SERVICE_NAME, envoy.add_to_server),
        ],
        registry=registry,
        dependencies=dependencies,
        probe_interval=settings.health_probe_interval_seconds,
        on_start=[lifecycle.start],
        on_stop=[lifecycle.stop],
    )
    return RateLimitService(app, limiter, decider, reloader, clients)


class _Lifecycle:
    """Starts the config watcher; closes it and the Redis pools on the way out."""

    WATCHER_STOP_TIMEOUT = 5.0

    def __init__(self, reloader: ConfigReloader | None, clients: list[aioredis.Redis]) -> None:
        self._reloader = reloader
        self._clients = clients
        self._stop = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._reloader is None:
            return
        if not self._reloader.reload():
            log.error("no valid Envoy rate limit config yet: ShouldRateLimit is refused")
        self._watcher = asyncio.create_task(self._reloader.watch(self._stop))

    async def stop(self) -> None:
        """Stop the watcher, then close every client, even when one of them fails."""
        self._stop.set()  # the watcher's thread sees this within one poll step and returns
        if self._watcher is not None:
            self._watcher.cancel()
            done, _ = await asyncio.wait([self._watcher], timeout=self.WATCHER_STOP_TIMEOUT)
            if not done:
                log.error("the Envoy config watcher did not stop; closing without it")
            elif not self._watcher.cancelled() and self._watcher.exception() is not None:
                log.error("the Envoy config watcher had failed", exc_info=self._watcher.exception())
        for client in self._clients:
            try:
                await client.aclose()
            except Exception:  # one Redis gone (or closing badly) must not keep the other open
                log.warning("closing a Redis client failed", exc_info=True)
