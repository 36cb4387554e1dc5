"""The budget checks' metric: `cost_budget_checks_total{decision}`, decision `allowed` or
`refused` (a hard budget that the call's worst case would overshoot). Refusals are what the
`BudgetExhausted` alert watches; the budget itself is not a label, as budgets are unbounded."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class BudgetMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._checks = Counter(
            "cost_budget_checks",
            "Budget checks, by decision.",
            ["decision"],
            registry=registry,
        )

    def observe(self, allowed: bool) -> None:
        self._checks.labels("allowed" if allowed else "refused").inc()
