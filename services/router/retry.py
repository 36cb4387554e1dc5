"""How long to wait before trying a deployment again, and whether to try at all.

Backoff is exponential with full jitter by default (AWS' "Exponential Backoff and Jitter"):
the wait before retry n is uniform in [0, min(max_delay, base * multiplier ** (n - 1))], which
spreads the retries of many callers that failed together instead of sending them back in
lockstep. When the upstream said how long to wait (Retry-After), we wait at least that long,
even beyond `max_delay_seconds`; but a wait beyond `max_retry_after_seconds` is not worth
holding the caller for, so `delay` returns None and the router falls back to the next
deployment instead. Randomness is injected (`random.Random`) so tests are exact.

Only `ProviderError`s marked retryable are retried: a provider knows which of its failures
(timeouts, 429, 5xx) another attempt may fix; anything else is a bug or a refusal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from services.router.providers.base import ProviderError

Jitter = Literal["full", "equal", "none"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay_seconds: float = 0.1
    max_delay_seconds: float = 5.0
    multiplier: float = 2.0
    jitter: Jitter = "full"
    """full: uniform in [0, backoff]; equal: uniform in [backoff / 2, backoff]; none: backoff."""
    max_retry_after_seconds: float = 30.0
    """A longer Retry-After means: do not retry this deployment, fall back."""
    max_attempts: int = 3
    """Attempts on one deployment, the first included, before falling back."""

    def __post_init__(self) -> None:
        problems = [
            name
            for name, ok in (
                ("base_delay_seconds", self.base_delay_seconds >= 0),
                ("max_delay_seconds", self.max_delay_seconds >= self.base_delay_seconds),
                ("multiplier", self.multiplier >= 1),
                ("jitter", self.jitter in ("full", "equal", "none")),
                ("max_retry_after_seconds", self.max_retry_after_seconds >= 0),
                ("max_attempts", self.max_attempts >= 1),
            )
            if not ok
        ]
        if problems:
            raise ValueError(f"invalid retry policy: {', '.join(problems)} out of range")

    def backoff(self, attempt: int) -> float:
        """The jitter's upper bound after `attempt` failed attempts (1 = the first failed)."""
        if attempt < 1:
            raise ValueError("attempt counts failed attempts and starts at 1")
        try:
            grown = self.base_delay_seconds * float(self.multiplier) ** (attempt - 1)
        except OverflowError:  # a very late attempt: the cap applies anyway
            return self.max_delay_seconds
        return min(self.max_delay_seconds, grown)

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before the next attempt, after `attempt` failed ones; None when the
        upstream asked for a wait longer than `max_retry_after_seconds` (fall back instead)."""
        ceiling = self.backoff(attempt)
        if self.jitter == "full":
            wait = rng.uniform(0.0, ceiling)
        elif self.jitter == "equal":
            wait = rng.uniform(ceiling / 2, ceiling)
        else:
            wait = ceiling
        if retry_after is None:
            return wait
        if retry_after > self.max_retry_after_seconds:
            return None
        return max(wait, retry_after)


def is_retryable(error: BaseException) -> bool:
    """Whether another attempt at the same deployment may succeed."""
    return isinstance(error, ProviderError) and error.retryable


def retry_after(error: BaseException) -> float | None:
    """The wait the upstream asked for (its Retry-After header), if it asked."""
    return error.retry_after_seconds if isinstance(error, ProviderError) else None
