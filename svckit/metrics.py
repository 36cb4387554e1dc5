"""Prometheus metrics: per-RPC counts and latency, served on the service's metrics port.

Names follow the go-grpc-prometheus conventions that existing Grafana dashboards expect:
`grpc_server_started_total`, `grpc_server_handled_total{grpc_code}`,
`grpc_server_handling_seconds` (histogram) and `grpc_server_in_flight`. Labels are the
service, method and status code only, so cardinality stays bounded.

Each service owns a `CollectorRegistry` (never the process-global default), so several servers
can live in one process, as they do in tests. The labelled children of each method are looked
up once (`RpcMetrics.method`), not on every call.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


class MethodMetrics:
    """The instruments of one RPC method, already labelled."""

    def __init__(self, metrics: RpcMetrics, service: str, method: str) -> None:
        self._started = metrics.started.labels(service, method)
        self._in_flight = metrics.in_flight.labels(service, method)
        self._latency = metrics.latency.labels(service, method)
        self._handled = metrics.handled
        self._labels = (service, method)
        self._by_code: dict[str, Any] = {}

    def start(self) -> float:
        self._started.inc()
        self._in_flight.inc()
        return time.perf_counter()

    def finish(self, started: float, code: str) -> None:
        self._in_flight.dec()
        self._latency.observe(time.perf_counter() - started)
        handled = self._by_code.get(code)
        if handled is None:
            handled = self._by_code[code] = self._handled.labels(*self._labels, code)
        handled.inc()


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

    def method(self, service: str, method: str) -> MethodMetrics:
        return MethodMetrics(self, service, method)


def serve_metrics(registry: CollectorRegistry, port: int, host: str = "0.0.0.0") -> tuple[Any, int]:
    """Start the Prometheus HTTP endpoint on a thread; returns (server, bound port)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, int(server.server_port)


__all__ = ["MethodMetrics", "RpcMetrics", "serve_metrics"]
