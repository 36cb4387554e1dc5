"""The gRPC server every service runs: `create_server()` builds it, `run()` serves until SIGTERM.

A service describes itself as a `ServiceApp`: the servicers it registers, the dependencies its
readiness follows, and the resources it starts and stops. `create_server` adds what every service
has (health, reflection, the request-context, metrics, tracing and error interceptors) and binds
the port, so tests bind port 0 and talk to a real in-process server. `run` adds the process
concerns: logging, the metrics endpoint, signals, and the shutdown order

    SIGTERM -> health NOT_SERVING -> the app's drain hooks (end long-lived streams)
            -> stop accepting calls, drain in-flight ones (grace)
            -> stop the dependency probes -> stop the app's resources -> flush telemetry -> exit 0.

Shutdown is bounded: `svckit.shutdown` explains how and why. The dependency probes are stopped
with their own short bound (`PROBE_STOP_TIMEOUT`), so one stuck probe still lets the app's
resources be released.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from svckit.health import Probe, Readiness, watch_dependency
from svckit.interceptors import ServerCallInterceptor
from svckit.logs import configure_logging
from svckit.metrics import RpcMetrics, serve_metrics
from svckit.settings import ServiceSettings
from svckit.shutdown import SHUTDOWN_MARGIN_SECONDS, ShutdownWatchdog, describe_task
from svckit.telemetry import (
    create_tracer_provider,
    exporting,
    install_global,
    tracing_enabled,
    tracing_interceptor,
)

log = logging.getLogger("svckit.server")

PROBE_STOP_TIMEOUT = 2.0
"""Seconds the cancelled dependency probes get to finish before shutdown goes on without them."""
MAX_CONNECTION_AGE_SECONDS = 300
"""A client connection is closed (GOAWAY; its calls run to their end) after this long, so
clients resolve the service's name again and spread calls over replicas added since
(svckit.channels)."""


@dataclass(frozen=True)
class Registration:
    """One gRPC service: its full name (for health and reflection) and how to add it."""

    service_name: str
    add: Callable[[grpc.aio.Server], None]


@dataclass
class ServiceApp:
    """Everything the kit needs to know about a service."""

    name: str
    registrations: Sequence[Registration]
    registry: CollectorRegistry
    dependencies: Mapping[str, Probe] = field(default_factory=dict)
    probe_interval: float = 1.0
    on_start: Sequence[Callable[[], Awaitable[None]]] = ()
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()
    # Run once the server reports NOT_SERVING, before the drain: a service with long-lived
    # streams ends them here, or they would hold the shutdown for the whole grace period.
    on_drain: Sequence[Callable[[], Awaitable[None]]] = ()


@dataclass
class GrpcServer:
    """A built server: start it, find it on `port`, stop it."""

    server: grpc.aio.Server
    port: int
    readiness: Readiness
    app: ServiceApp
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        for hook in self.app.on_start:
            await hook()
        await self.server.start()
        await self.readiness.publish()
        for name, probe in self.app.dependencies.items():
            task = asyncio.create_task(
                watch_dependency(self.readiness, name, probe, self.app.probe_interval)
            )
            self._tasks.append(task)

    async def stop(self, grace: float) -> None:
        """Refuse new calls, let in-flight ones finish within `grace`, release resources."""
        await self.readiness.shutdown()
        for hook in self.app.on_drain:
            await hook()
        await self.server.stop(grace)
        await self._stop_probes()
        for hook in self.app.on_stop:
            await hook()

    async def _stop_probes(self) -> None:
        """Cancel the dependency probes; wait for them, but not for ever."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=PROBE_STOP_TIMEOUT)
        if pending:
            log.error(
                "dependency probes did not stop; shutting down without them",
                extra={"pending": [describe_task(task) for task in pending]},
            )


def create_server(
    app: ServiceApp,
    *,
    address: str = "127.0.0.1:0",
    tracer_provider: TracerProvider | None = None,
) -> GrpcServer:
    """Build the server for `app` and bind `address` (port 0 picks a free port)."""
    interceptors: list[grpc.aio.ServerInterceptor] = [
        ServerCallInterceptor(f"{app.name}.switchboard", RpcMetrics(app.registry))
    ]
    if tracer_provider is not None:
        interceptors.append(tracing_interceptor(tracer_provider))
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[("grpc.max_connection_age_ms", MAX_CONNECTION_AGE_SECONDS * 1000)],
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = [r.service_name for r in app.registrations]
    for registration in app.registrations:
        registration.add(server)
    reflection.enable_server_reflection(
        [*names, "grpc.health.v1.Health", reflection.SERVICE_NAME], server
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpc's way of saying the address is taken or invalid
        raise OSError(f"could not bind {address}") from exc
    if port == 0:
        raise OSError(f"could not bind {address}")
    return GrpcServer(server=server, port=port, readiness=Readiness(health, names), app=app)


async def run(
    app: ServiceApp,
    settings: ServiceSettings,
    environ: Mapping[str, str] = os.environ,
    *,
    stop_margin: float = SHUTDOWN_MARGIN_SECONDS,
) -> None:
    """Serve `app` until SIGTERM or SIGINT, then shut down in order, within a deadline.

    The process exits `HUNG_SHUTDOWN_EXIT_CODE` if it is still alive `shutdown_grace_seconds +
    stop_margin` seconds after the signal, and at once on a second signal (see the module doc).
    """
    configure_logging(app.name, settings.log_level)
    provider = None
    if tracing_enabled(environ) and exporting(environ):
        provider = create_tracer_provider(app.name, environ)
        install_global(provider)
    # The metrics endpoint listens where gRPC does (RATELIMIT_GRPC_HOST=127.0.0.1 keeps both local).
    metrics_server, metrics_port = serve_metrics(
        app.registry, settings.metrics_port, host=settings.grpc_host
    )
    server = create_server(
        app, address=f"{settings.grpc_host}:{settings.grpc_port}", tracer_provider=provider
    )
    loop = asyncio.get_running_loop()
    deadline = settings.shutdown_grace_seconds + stop_margin
    watchdog = ShutdownWatchdog(loop, deadline)
    watchdog.install()
    await server.start()
    log.info(
        "serving",
        extra={"grpc_port": server.port, "metrics_port": metrics_port},
    )
    await watchdog.requested.wait()
    log.info(
        "shutting down",
        extra={"grace_seconds": settings.shutdown_grace_seconds, "deadline_seconds": deadline},
    )
    await server.stop(settings.shutdown_grace_seconds)
    metrics_server.shutdown()
    metrics_server.server_close()
    if provider is not None:
        provider.shutdown()
    log.info("stopped")


__all__ = [
    "GrpcServer",
    "Registration",
    "ServiceApp",
    "create_server",
    "run",
]
