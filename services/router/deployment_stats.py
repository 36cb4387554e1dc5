"""What this replica has seen of each deployment: calls in flight and recent latency.

The latency- and load-aware strategies read these. They are per replica on purpose: each
replica balances the load it sends, and sharing the numbers through Redis would put a round trip
on every call for little gain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class _Seen:
    in_flight: int = 0
    latency_seconds: float | None = None


class DeploymentStats:
    """In-flight counts and an exponentially weighted moving average of successful latency."""

    def __init__(self, smoothing: float = 0.2) -> None:
        if not 0 < smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")
        self._smoothing = smoothing
        self._seen: dict[str, _Seen] = {}

    def in_flight(self, deployment: str) -> int:
        seen = self._seen.get(deployment)
        return seen.in_flight if seen else 0

    def latency(self, deployment: str) -> float | None:
        """The smoothed latency in seconds; None until a call succeeded."""
        seen = self._seen.get(deployment)
        return seen.latency_seconds if seen else None

    @contextmanager
    def calling(self, deployment: str) -> Iterator[None]:
        seen = self._seen.setdefault(deployment, _Seen())
        seen.in_flight += 1
        try:
            yield
        finally:
            seen.in_flight -= 1

    def observe_latency(self, deployment: str, seconds: float) -> None:
        seen = self._seen.setdefault(deployment, _Seen())
        previous = seen.latency_seconds
        seen.latency_seconds = (
            seconds if previous is None else previous + self._smoothing * (seconds - previous)
        )
