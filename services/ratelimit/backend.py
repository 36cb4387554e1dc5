"""What every rate-limit store shares: the error raised when its backend cannot be reached."""

from __future__ import annotations

from svckit.errors import Unavailable


class BackendUnavailable(Unavailable):
    """The counter store (Redis) did not answer; the failure mode decides what happens next."""

    default_reason = "RATELIMIT_BACKEND_UNAVAILABLE"
