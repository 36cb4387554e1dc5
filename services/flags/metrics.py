"""The flags service's own Prometheus metrics (the kit adds the per-RPC ones).

- `flags_evaluations_total{flag_key, variant, reason}`: evaluations this service answered, per
  variant served: the exposures of remote evaluations, per flag and variant (an A/B split's
  arms). Labels come from stored flags only (operators create them), so cardinality stays
  bounded; evaluations that fail are counted apart, by error code, without the requested key
  (a caller asking for random keys must not create series).
- `flags_evaluation_errors_total{error}`, `flags_revision` (the revision this replica serves),
  `flags_streams` (open EventStream and SyncFlags streams), `flags_rollout_steps_total`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.flags.evaluation import Resolution
from services.flags.snapshot import Snapshot


class FlagMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluations = Counter(
            "flags_evaluations",
            "Flag evaluations answered, by flag, variant served and reason.",
            ("flag_key", "variant", "reason"),
            registry=registry,
        )
        self.errors = Counter(
            "flags_evaluation_errors",
            "Flag evaluations that failed, by flagd error code.",
            ("error",),
            registry=registry,
        )
        self.revision = Gauge(
            "flags_revision", "The flag revision this replica serves.", registry=registry
        )
        self.streams = Gauge(
            "flags_streams", "Open flagd streams (EventStream and SyncFlags).", registry=registry
        )
        self.rollout_steps = Counter(
            "flags_rollout_steps", "Rollout steps applied by this replica.", registry=registry
        )
        self._children: dict[tuple[str, str, str], Any] = {}

    def observe(self, resolution: Resolution | None, error: str | None) -> None:
        if resolution is None:
            self.errors.labels(error or "GENERAL").inc()
            return
        labels = (resolution.flag_key, resolution.variant or "", resolution.reason)
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self.evaluations.labels(*labels)
        child.inc()

    def snapshot(self, snapshot: Snapshot) -> None:
        self.revision.set(snapshot.version)

    def count_streams(self, open_streams: Callable[[], int]) -> None:
        self.streams.set_function(lambda: float(open_streams()))


__all__ = ["FlagMetrics"]
