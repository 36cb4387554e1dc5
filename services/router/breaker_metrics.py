"""Prometheus metrics of the circuit breakers.

The state gauge is what this replica last observed (on acquire, record or snapshot), so every
replica reports the shared state it has seen; transitions are counted by the replica that made
them, so summing over replicas counts each transition once. Deployment names come from the
catalogue, which keeps the label's cardinality bounded.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.router.breaker import BreakerState


class BreakerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.state = Gauge(
            "router_circuit_state",
            "Circuit breaker state per deployment: 0 closed, 1 open, 2 half-open.",
            ("deployment",),
            registry=registry,
        )
        self.transitions = Counter(
            "router_circuit_transitions_total",
            "Circuit breaker transitions made by this replica, by deployment and new state.",
            ("deployment", "to"),
            registry=registry,
        )
        self.store_errors = Counter(
            "router_circuit_store_errors_total",
            "Breaker store operations that failed; the calls were let through untracked.",
            ("operation",),
            registry=registry,
        )

    def observed(self, deployment: str, state: BreakerState) -> None:
        self.state.labels(deployment).set(int(state))

    def transitioned(self, deployment: str, to: BreakerState) -> None:
        self.transitions.labels(deployment, to.label).inc()

    def store_failed(self, operation: str) -> None:
        self.store_errors.labels(operation).inc()
