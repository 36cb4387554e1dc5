"""Fixed windows aligned to the Unix epoch (UTC), the one window shape both APIs use.

A window of `length` seconds starts at `now - now % length`: minute windows start at the top of
the minute, day windows at 00:00 UTC. The Envoy API also uses hour, week (starting Thursday,
as the epoch did), 30-day "month" and 365-day "year" windows, like envoyproxy/ratelimit.
Fixed windows keep every decision one atomic increment on one counter, so replicas sharing a
store never admit more than the limit, and the reset time is exact and the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""Seconds since the epoch; `time.time` in production, a fake in tests."""

SECOND = 1
MINUTE = 60
HOUR = 3_600
DAY = 86_400
WEEK = 604_800
MONTH = 2_592_000
YEAR = 31_536_000


@dataclass(frozen=True)
class Window:
    """The window of `length` seconds that contains a given instant."""

    start: int
    length: int

    @classmethod
    def containing(cls, now: float, length: int) -> Window:
        second = int(now)
        return cls(start=second - second % length, length=length)

    @property
    def end(self) -> int:
        return self.start + self.length

    def seconds_left(self, now: float) -> int:
        """Whole seconds until the window resets, from 1 to `length` (never 0)."""
        return max(1, self.end - int(now))
