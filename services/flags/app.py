"""Assembles the flags service from its settings: store, state, evaluation, rollouts, servicers.

One gRPC port (FLAGS_GRPC_PORT, 50054) serves:

    switchboard.flags.v1.FlagsService   the admin API (google.api.http annotated)
    flagd.evaluation.v2.Service         remote evaluation (the flagd provider's RPC mode)
    flagd.evaluation.v1.Service         remote evaluation with ResolveAll (the gateway, others)
    flagd.sync.v1.FlagSyncService       flag streams for in-process evaluation

    FLAGS_DATABASE_URL  flag sets in PostgreSQL (postgresql+asyncpg://...), shared by replicas
                        (changes reach each within a poll interval, at once with NOTIFY);
                        empty: SQLite at FLAGS_SQLITE_PATH. Migrations run at start-up.

Start-up: migrate, load the source files (`sources`), load the snapshot, then serve. Background
tasks: the change feed (other replicas' changes) and the rollout ticker. Draining closes the
state, which ends every flagd stream with `provider_shutdown`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2_grpc as v1_grpc
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2_grpc as v2_grpc
from openfeature.schemas.protobuf.flagd.sync.v1 import sync_pb2_grpc
from prometheus_client import CollectorRegistry
from switchboard.flags.v1 import flags_service_pb2_grpc as pb_grpc

from services.flags import evaluation_servicer, sync_servicer
from services.flags.admin import FlagAdmin
from services.flags.change_feed import ChangeFeed
from services.flags.database import create_engine, migrate
from services.flags.evaluation import Evaluator
from services.flags.exposures import ExposureCounts
from services.flags.metrics import FlagMetrics
from services.flags.rollouts import Rollouts
from services.flags.servicer import SERVICE_NAME, FlagsParts, FlagsServicer
from services.flags.settings import FlagsSettings
from services.flags.sources import load_sources
from services.flags.state import FlagState
from services.flags.store import FlagStore
from services.flags.sync_servicer import SyncServicer
from svckit.server import Registration, ServiceApp
from svckit.sql import database_probe

log = logging.getLogger(__name__)


@dataclass
class FlagsService:
    """The assembled service; the parts are exposed for tests and the entry point."""

    app: ServiceApp
    settings: FlagsSettings
    store: FlagStore
    state: FlagState
    evaluator: Evaluator
    admin: FlagAdmin
    rollouts: Rollouts
    feed: ChangeFeed
    metrics: FlagMetrics


def build(
    settings: FlagsSettings,
    *,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] = time.time,
    background: bool = True,
) -> FlagsService:
    """Wire the service. `background=False` leaves the change feed and the rollout ticker to
    the caller (tests drive them with their own clock)."""
    registry = registry or CollectorRegistry()
    metrics = FlagMetrics(registry)
    url = database_url(settings)
    engine = create_engine(url)
    store = FlagStore(engine, clock=clock)
    state = FlagState(store, on_snapshot=metrics.snapshot)
    store.on_commit(state.on_commit)
    metrics.count_streams(lambda: state.watchers)
    evaluator = Evaluator(lambda: state.snapshot, settings.static_context, metrics.observe)
    admin = FlagAdmin(store)
    rollouts = Rollouts(store, clock=clock, on_step=metrics.rollout_steps.inc)
    feed = ChangeFeed(state, url, settings.poll_interval_seconds)
    parts = FlagsParts(admin, rollouts, ExposureCounts(engine, clock=clock))
    lifecycle = _Lifecycle(settings, store, state, feed, rollouts, background=background)
    app = ServiceApp(
        name="flags",
        registrations=_registrations(settings, state, evaluator, parts),
        registry=registry,
        dependencies={"database": database_probe(engine)},
        probe_interval=settings.health_probe_interval_seconds,
        on_start=[lifecycle.start],
        on_drain=[lifecycle.drain],
        on_stop=[lifecycle.stop],
    )
    return FlagsService(app, settings, store, state, evaluator, admin, rollouts, feed, metrics)


def database_url(settings: FlagsSettings) -> str:
    return settings.database_url or f"sqlite+aiosqlite:///{settings.sqlite_path}"


def _registrations(
    settings: FlagsSettings, state: FlagState, evaluator: Evaluator, parts: FlagsParts
) -> list[Registration]:
    admin = FlagsServicer(parts)
    keepalive = settings.keepalive_seconds
    v1 = evaluation_servicer.EvaluationV1Servicer(evaluator, state, keepalive)
    v2 = evaluation_servicer.EvaluationV2Servicer(evaluator, state, keepalive)
    sync = SyncServicer(
        state, settings.static_context, metadata_disabled=settings.sync_metadata_disabled
    )
    return [
        Registration(SERVICE_NAME, lambda s: pb_grpc.add_FlagsServiceServicer_to_server(admin, s)),
        Registration(
            evaluation_servicer.V2_SERVICE, lambda s: v2_grpc.add_ServiceServicer_to_server(v2, s)
        ),
        Registration(
            evaluation_servicer.V1_SERVICE, lambda s: v1_grpc.add_ServiceServicer_to_server(v1, s)
        ),
        Registration(
            sync_servicer.SERVICE_NAME,
            lambda s: sync_pb2_grpc.add_FlagSyncServiceServicer_to_server(sync, s),
        ),
    ]


class _Lifecycle:
    def __init__(
        self,
        settings: FlagsSettings,
        store: FlagStore,
        state: FlagState,
        feed: ChangeFeed,
        rollouts: Rollouts,
        *,
        background: bool,
    ) -> None:
        self._settings = settings
        self._store = store
        self._state = state
        self._feed = feed
        self._rollouts = rollouts
        self._background = background
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        settings = self._settings
        url = database_url(settings)
        if url.startswith("sqlite"):
            settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        await migrate(url)
        written = await load_sources(
            self._store, settings.source_files, strict=settings.strict_sources
        )
        if settings.source_files:
            log.info("flag sources: %d of %d loaded anew", written, len(settings.source_files))
        await self._state.refresh()
        self._state.open()
        if self._background:
            self._tasks = [
                asyncio.create_task(self._feed.run()),
                asyncio.create_task(self._rollouts.run(settings.rollout_tick_seconds)),
            ]

    async def drain(self) -> None:
        self._state.close()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._store.engine.dispose()


__all__ = ["FlagsService", "build", "database_url"]
