"""Assembles the cost service from its settings: ledger, prices, budgets, alerts, reports.

    COST_DATABASE_URL   the ledger in PostgreSQL (postgresql+asyncpg://...); empty: SQLite at
                        COST_SQLITE_PATH. Migrations run at start-up.
    COST_REDIS_URL      budget reservations shared by replicas, and the router's usage stream
                        consumed by every replica in one consumer group; empty: reservations in
                        this process and usage through RecordUsage only.

Usage from either path goes through one `LedgerWriter`, so an event delivered by both is
recorded once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.cost.budgets.accounting import BudgetAccounting
from services.cost.budgets.alert_webhook import AlertWebhook
from services.cost.budgets.alerts import AlertFeed
from services.cost.budgets.checker import BudgetChecker
from services.cost.budgets.memory_reservations import MemoryReservations
from services.cost.budgets.metrics import BudgetMetrics
from services.cost.budgets.redis_reservations import RedisReservations
from services.cost.budgets.reservations import ReservationStore
from services.cost.budgets.store import BudgetStore
from services.cost.database import create_engine, migrate
from services.cost.ledger.stream_consumer import (
    ConsumerSettings,
    StreamMetrics,
    UsageStreamConsumer,
)
from services.cost.ledger.writer import LedgerMetrics, LedgerWriter
from services.cost.pricing.default_prices import load_default_prices
from services.cost.pricing.price_book import PriceBook
from services.cost.pricing.price_store import PriceStore
from services.cost.pricing.prices_file import load_prices_into
from services.cost.reports.spend import SpendReport
from services.cost.servicer import SERVICE_NAME, CostParts, CostServicer
from services.cost.settings import CostSettings
from svckit.health import Probe
from svckit.redis_client import pooled_redis, redis_probe
from svckit.secrets import secrets_from_environment
from svckit.server import Registration, ServiceApp
from svckit.sql import database_probe

log = logging.getLogger(__name__)

STOP_TIMEOUT = 2.5
"""How long shutdown waits for the stream consumer to finish its batch (its read blocks 1 s at
most) before cancelling it. A batch cut short is not acknowledged: its entries are read again
after the restart and the ledger counts them once. With `WEBHOOK_DRAIN_SECONDS` it stays inside
`SHUTDOWN_MARGIN_SECONDS` (5 s), past which the watchdog ends the process as hung."""
WEBHOOK_DRAIN_SECONDS = 2.0
"""How long shutdown waits for alert webhooks still being sent or retried (alerts the final
flush of the ledger may just have raised among them). Well inside `SHUTDOWN_MARGIN_SECONDS`
(svckit.shutdown), the time the process has after the grace; sends still pending then are
logged and dropped (svckit.webhooks)."""


@dataclass
class CostService:
    """The assembled service; the parts are exposed for tests and the entry point."""

    app: ServiceApp
    parts: CostParts
    consumer: UsageStreamConsumer | None


def build(
    settings: CostSettings,
    *,
    environ: Mapping[str, str] | None = None,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] = time.time,
) -> CostService:
    registry = registry or CollectorRegistry()
    environ = os.environ if environ is None else environ
    engine = create_engine(database_url(settings))
    price_store = PriceStore(engine, clock=clock)
    prices = PriceBook(
        price_store,
        load_default_prices(),
        clock=clock,
        refresh_seconds=settings.price_refresh_seconds,
    )
    client = _redis(settings)
    reservations: ReservationStore = (
        RedisReservations(client, key_prefix=settings.key_prefix, clock=clock)
        if client is not None
        else MemoryReservations(clock=clock)
    )
    feed = AlertFeed(engine)
    webhook = _webhook(settings, environ)
    listeners = [feed.publish] + ([webhook.send] if webhook else [])
    accounting = BudgetAccounting(reservations, listeners=listeners, clock=clock)
    writer = LedgerWriter(
        engine,
        prices,
        [accounting],
        LedgerMetrics(registry),
        clock,
        max_batch=settings.ledger_max_batch,
        max_delay=settings.ledger_max_delay_seconds,
    )
    budgets = BudgetStore(engine)
    checker = BudgetChecker(
        engine,
        budgets,
        reservations,
        prices,
        ttl_seconds=settings.reservation_ttl_seconds,
        metrics=BudgetMetrics(registry),
    )
    parts = CostParts(engine, writer, prices, budgets, checker, feed, SpendReport(engine))
    consumer, consumer_client = _consumer(settings, writer, registry)
    servicer = CostServicer(parts)
    lifecycle = _Lifecycle(settings, parts, price_store, consumer, feed, webhook, reservations)
    lifecycle.clients = [c for c in (client, consumer_client) if c is not None]
    dependencies: dict[str, Probe] = {"database": database_probe(engine)}
    if client is not None:
        dependencies["redis"] = redis_probe(client)
    app = ServiceApp(
        name="cost",
        registrations=[
            Registration(
                SERVICE_NAME,
                lambda server: pb_grpc.add_CostServiceServicer_to_server(servicer, server),
            )
        ],
        registry=registry,
        dependencies=dependencies,
        probe_interval=settings.health_probe_interval_seconds,
        on_start=[lifecycle.start],
        on_drain=[lifecycle.drain],  # open WatchAlerts streams end at SIGTERM, not after the grace
        on_stop=[lifecycle.stop],
    )
    return CostService(app, parts, consumer)


def database_url(settings: CostSettings) -> str:
    return settings.database_url or f"sqlite+aiosqlite:///{settings.sqlite_path}"


def _redis(settings: CostSettings) -> aioredis.Redis | None:
    if not settings.redis_url:
        return None
    # The stream consumer blocks on XREADGROUP: reads wait longer than its block time.
    return pooled_redis(
        settings.redis_url,
        timeout_seconds=settings.redis_timeout_seconds,
        socket_timeout_seconds=5.0,
    )


def _consumer(
    settings: CostSettings, writer: LedgerWriter, registry: CollectorRegistry
) -> tuple[UsageStreamConsumer | None, aioredis.Redis | None]:
    if not settings.redis_url:
        return None, None
    # Its own client: blocking reads must not hold the pool the budget checks use.
    client = pooled_redis(
        settings.redis_url,
        timeout_seconds=settings.redis_timeout_seconds,
        socket_timeout_seconds=5.0,
        pool_size=4,
    )
    consumer_settings = ConsumerSettings(
        stream=settings.usage_stream,
        group=settings.consumer_group,
        consumer=f"{socket.gethostname()}-{os.getpid()}",
        batch=settings.stream_batch_size,
        claim_idle_ms=round(settings.stream_claim_idle_seconds * 1000),
    )
    consumer = UsageStreamConsumer(client, writer, consumer_settings, StreamMetrics(registry))
    return consumer, client


def _webhook(settings: CostSettings, environ: Mapping[str, str]) -> AlertWebhook | None:
    """Alert webhooks are only sent signed: without the secret there is no webhook."""
    if not settings.alert_webhook_url:
        return None
    name = settings.alert_webhook_secret_name
    secrets = secrets_from_environment("COST", environ)
    if not secrets.get(name):
        log.warning("COST_ALERT_WEBHOOK_URL is set but %s is not: alert webhooks are off", name)
        return None
    return AlertWebhook(settings.alert_webhook_url, lambda: secrets.get(name) or "")


class _Lifecycle:
    def __init__(
        self,
        settings: CostSettings,
        parts: CostParts,
        price_store: PriceStore,
        consumer: UsageStreamConsumer | None,
        feed: AlertFeed,
        webhook: AlertWebhook | None,
        reservations: ReservationStore,
    ) -> None:
        self._settings = settings
        self._parts = parts
        self._price_store = price_store
        self._consumer = consumer
        self._feed = feed
        self._webhook = webhook
        self._reservations = reservations
        self.clients: list[aioredis.Redis] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._feed_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        url = database_url(self._settings)
        if url.startswith("sqlite"):
            self._settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        await migrate(url)
        if self._settings.prices_file:
            applied = await load_prices_into(self._price_store, Path(self._settings.prices_file))
            log.info("prices file loaded: %d added, %d unchanged", applied.added, applied.unchanged)
        self._feed_task = asyncio.create_task(self._feed.run())
        if self._consumer is not None:
            self._tasks.append(asyncio.create_task(self._consumer.run()))

    async def drain(self) -> None:
        """Ends the alert watchers' streams (OK), so they do not hold the server's grace."""
        self._feed.close()

    async def stop(self) -> None:
        """Stop reading the stream, write what is pending, let the alert webhooks it raised be
        sent (bounded: `WEBHOOK_DRAIN_SECONDS`), then release everything."""
        if self._consumer is not None:
            self._consumer.stop()
        self._feed.close()
        if self._feed_task is not None:
            self._feed_task.cancel()  # it polls until cancelled
            await asyncio.gather(self._feed_task, return_exceptions=True)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT)
            for task in pending:
                task.cancel()
        closers: list[Callable[[], Awaitable[None]]] = [self._parts.writer.aclose]
        if self._webhook is not None:
            closers += [self._drain_webhook, self._webhook.aclose]
        closers.append(self._reservations.aclose)
        closers += [client.aclose for client in self.clients]
        closers.append(self._parts.engine.dispose)
        for close in closers:
            try:
                await close()
            except Exception:  # one failing close must not keep the others open
                log.warning("closing %s failed", close, exc_info=True)

    async def _drain_webhook(self) -> None:
        if self._webhook is not None:
            await self._webhook.drain(WEBHOOK_DRAIN_SECONDS)
