"""Assembles the prompt registry from its settings.

    PROMPTS_DATABASE_URL   the registry in PostgreSQL (postgresql+asyncpg://...); empty: SQLite
                           at PROMPTS_SQLITE_PATH. Migrations run at start-up.

Every replica runs a change feed polling the shared change log (`change_feed`), so watchers
connected to any replica hear of changes made through any other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from services.prompts.change_feed import ChangeFeed
from services.prompts.database import Database, migrate
from services.prompts.drafts import Limits
from services.prompts.registry import Registry, utc_now
from services.prompts.servicer import SERVICE_NAME, PromptServicer
from services.prompts.settings import PromptsSettings
from svckit.server import Registration, ServiceApp
from svckit.sql import database_probe

log = logging.getLogger(__name__)


@dataclass
class PromptsService:
    """The assembled service; the parts are exposed for tests and the entry point."""

    app: ServiceApp
    registry: Registry
    feed: ChangeFeed
    db: Database


def build(
    settings: PromptsSettings,
    *,
    registry: CollectorRegistry | None = None,
    now: Callable[[], datetime] = utc_now,
) -> PromptsService:
    metrics = registry or CollectorRegistry()
    db = Database(database_url(settings))
    feed = ChangeFeed(
        db,
        poll_seconds=settings.change_poll_seconds,
        retention_seconds=settings.change_retention_seconds,
        queue_size=settings.watch_queue_size,
        now=now,
        registry=metrics,
    )
    limits = Limits(
        max_template_bytes=settings.max_template_bytes,
        max_config_bytes=settings.max_config_bytes,
        max_render_bytes=settings.max_render_bytes,
    )
    prompts = Registry(db, feed=feed, limits=limits, now=now, registry=metrics)
    servicer = PromptServicer(prompts, feed)
    lifecycle = _Lifecycle(settings, db, feed)
    app = ServiceApp(
        name="prompts",
        registrations=[
            Registration(
                SERVICE_NAME,
                lambda server: pb_grpc.add_PromptServiceServicer_to_server(servicer, server),
            )
        ],
        registry=metrics,
        dependencies={"database": database_probe(db.reader)},
        probe_interval=settings.health_probe_interval_seconds,
        on_start=[lifecycle.start],
        on_stop=[lifecycle.stop],
        on_drain=[_closing(feed)],  # open watch streams end at SIGTERM, not after the grace
    )
    return PromptsService(app, prompts, feed, db)


def database_url(settings: PromptsSettings) -> str:
    return settings.database_url or f"sqlite+aiosqlite:///{settings.sqlite_path}"


class _Lifecycle:
    def __init__(self, settings: PromptsSettings, db: Database, feed: ChangeFeed) -> None:
        self._settings = settings
        self._db = db
        self._feed = feed
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._db.sqlite:
            self._settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        await migrate(self._db.url)
        await self._feed.start()
        self._task = asyncio.create_task(self._feed.run())

    async def stop(self) -> None:
        """End the watch streams, stop polling, release the database."""
        self._feed.close()
        if self._task is not None:
            self._task.cancel()  # it polls until cancelled
            await asyncio.gather(self._task, return_exceptions=True)
        await self._db.dispose()


def _closing(feed: ChangeFeed) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        feed.close()

    return close
