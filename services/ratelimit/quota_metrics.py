"""Prometheus counters of quota decisions. Labels are bounded: no subject or model names."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter


class QuotaMetrics:
    """Counts each check by outcome, and the checks the failure mode had to decide."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.checks = Counter(
            "ratelimit_quota_checks_total",
            "Quota checks by result: allowed, refused, or decided by the failure mode.",
            ("result",),
            registry=registry,
        )
        self.backend_failures = Counter(
            "ratelimit_backend_failures_total",
            "Quota checks that could not reach the counter store, by failure mode.",
            ("failure_mode",),
            registry=registry,
        )
        self._outcomes: dict[bool, Any] = {}

    def checked(self, allowed: bool) -> None:
        # Each outcome's child is labelled once: this runs for every check, `labels()` is a
        # locked lookup, and a series still appears only once it has been counted.
        child = self._outcomes.get(allowed)
        if child is None:
            child = self._outcomes[allowed] = self.checks.labels(
                "allowed" if allowed else "refused"
            )
        child.inc()

    def backend_failed(self, failure_mode: str, allowed: bool) -> None:
        self.backend_failures.labels(failure_mode).inc()
        self.checks.labels("failed_open" if allowed else "failed_closed").inc()
