"""gRPC health (`grpc.health.v1`) that reflects the service's real dependencies.

`Readiness` keeps one flag per dependency (e.g. "redis"); the server reports SERVING, for the
overall service ("") and for each of its gRPC services, only while every dependency is up and
the server is not shutting down. `watch_dependency` probes a dependency on an interval, so a
Redis that goes away turns the service NOT_SERVING and one that comes back turns it SERVING
again, without a restart. After `shutdown()` nothing turns it back.

One more name, `LIVENESS_SERVICE` ("liveness"), answers SERVING whatever the dependencies say:
it is what a Kubernetes liveness probe asks, so a Redis outage makes replicas unready (no
traffic) without restarting every one of them (deploy/k8s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from grpc_health.v1 import health_pb2
from grpc_health.v1._async import HealthServicer

log = logging.getLogger("svckit.health")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

Probe = Callable[[], Awaitable[bool]]

LIVENESS_SERVICE = "liveness"
"""Health name that only says the process answers (for liveness probes), not its dependencies."""


class Readiness:
    """Dependency flags behind one health servicer."""

    def __init__(self, health: HealthServicer, services: Sequence[str]) -> None:
        self.health = health
        self._services = ("", *services)
        self._down: set[str] = set()
        self._shutting_down = False

    @property
    def serving(self) -> bool:
        return not self._down and not self._shutting_down

    def down(self) -> frozenset[str]:
        return frozenset(self._down)

    async def publish(self) -> None:
        status = SERVING if self.serving else NOT_SERVING
        for service in self._services:
            await self.health.set(service, status)
        await self.health.set(LIVENESS_SERVICE, NOT_SERVING if self._shutting_down else SERVING)

    async def set(self, dependency: str, up: bool) -> None:
        was = dependency not in self._down
        if up:
            self._down.discard(dependency)
        else:
            self._down.add(dependency)
        if was != up:
            log.warning("dependency %s is %s", dependency, "up" if up else "down")
        await self.publish()

    async def shutdown(self) -> None:
        """NOT_SERVING for good: the server is draining."""
        self._shutting_down = True
        await self.health.enter_graceful_shutdown()


async def watch_dependency(readiness: Readiness, name: str, probe: Probe, interval: float) -> None:
    """Probe `name` forever (until cancelled), publishing each change of its state.

    A probe may swallow the cancellation meant for this loop: on Python 3.11 `asyncio.wait_for`
    (which redis-py wraps around every socket write) returns the result instead of raising
    `CancelledError` when the cancel lands as the write completes (CPython gh-86296, fixed in
    3.12). The request is still counted by `Task.cancelling()`, so it is honoured after each probe;
    without this the loop went on probing forever and the shutdown awaiting it never finished.
    """
    task = asyncio.current_task()
    while True:
        try:
            up = await probe()
        except Exception:
            up = False
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        if up != (name not in readiness.down()):
            await readiness.set(name, up)
        await asyncio.sleep(interval)


__all__ = ["LIVENESS_SERVICE", "NOT_SERVING", "SERVING", "Probe", "Readiness", "watch_dependency"]
