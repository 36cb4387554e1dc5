"""A clock that tests move by hand, so window and expiry tests never sleep."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    """Seconds since the epoch of a UTC date and time: `utc(2025, 1, 6, 23, 59, 59)`."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
