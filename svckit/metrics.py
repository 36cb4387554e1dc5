"""Prometheus metrics: per-RPC counts and latency, served on the service's metrics port.

Names follow the go-grpc-prometheus conventions that existing Grafana dashboards expect:
`grpc_server_started_total`, `grpc_server_handled_total{grpc_code}`,
`grpc_server_handling_seconds` (histogram) and `grpc_server_in_flight`. Labels are the
service, method and status code only, so cardinality stays bounded.

Each service owns a `CollectorRegistry` (never the process-global default), so several servers
can live in one process, as they do in tests.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from svckit.handlers import StreamBehaviour, UnaryBehaviour, split_method, wrap_handler

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class RpcMetrics:
    """The RPC instruments of one server, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("grpc_service", "grpc_method")
        self.registry = registry
        self.started = Counter(
            "grpc_server_started_total", "RPCs started.", labels, registry=registry
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed, by status code.",
            (*labels, "grpc_code"),
            registry=registry,
        )
        self.latency = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "grpc_server_in_flight", "RPCs being handled now.", labels, registry=registry
        )


def _code_of(context: grpc.aio.ServicerContext, failed: bool) -> str:
    """The status code name of a finished call (the context holds it once it was set)."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN" if failed else "OK"


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times every RPC; install it outermost so it sees the final status."""

    def __init__(self, metrics: RpcMetrics) -> None:
        self._m = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        service, method = split_method(handler_call_details.method)

        def unary(behaviour: UnaryBehaviour) -> UnaryBehaviour:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = self._start(service, method)
                failed = True
                try:
                    result = await behaviour(request, context)
                    failed = False
                    return result
                finally:
                    self._finish(service, method, context, started, failed)

            return call

        def stream(behaviour: StreamBehaviour) -> StreamBehaviour:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                started = self._start(service, method)
                failed = True
                try:
                    async for item in behaviour(request, context):
                        yield item
                    failed = False
                finally:
                    self._finish(service, method, context, started, failed)

            return call

        return wrap_handler(handler, unary, stream)

    def _start(self, service: str, method: str) -> float:
        self._m.started.labels(service, method).inc()
        self._m.in_flight.labels(service, method).inc()
        return time.perf_counter()

    def _finish(
        self,
        service: str,
        method: str,
        context: grpc.aio.ServicerContext,
        started: float,
        failed: bool,
    ) -> None:
        self._m.in_flight.labels(service, method).dec()
        self._m.latency.labels(service, method).observe(time.perf_counter() - started)
        self._m.handled.labels(service, method, _code_of(context, failed)).inc()


def serve_metrics(registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> tuple[Any, int]:
    """Start the Prometheus HTTP endpoint on a thread; returns (server, bound port)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, int(server.server_port)


__all__ = ["MetricsInterceptor", "RpcMetrics", "serve_metrics"]
