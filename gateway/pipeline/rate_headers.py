"""The rate-limit answer as OpenAI's response headers.

    x-ratelimit-limit-requests      x-ratelimit-limit-tokens
    x-ratelimit-remaining-requests  x-ratelimit-remaining-tokens
    x-ratelimit-reset-requests      x-ratelimit-reset-tokens

A call is checked against several limits (per day and per minute, for the key, its user and
its tenant, and per model). Each trio describes the tightest of its kind, the one with the
least remaining (the earliest reset breaks a tie), because that is the one a client must pace
itself by. Resets are durations in OpenAI's (Go's) format: "20ms", "1s", "6m0s", "1h2m3s";
whole seconds are rounded up, so a client never retries a moment too early.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb

REQUEST_KINDS = frozenset(
    {pb.LIMIT_KIND_REQUESTS_PER_DAY, pb.LIMIT_KIND_REQUESTS_PER_MINUTE},
)
TOKEN_KINDS = frozenset({pb.LIMIT_KIND_TOKENS_PER_MINUTE})


def openai_duration(seconds: float) -> str:
    """A duration as OpenAI writes it in reset headers."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def seconds_until(limit: pb.LimitStatus, now: float) -> float:
    return max(0.0, limit.reset_time.ToNanoseconds() / 1e9 - now)


def tightest(limits: Sequence[pb.LimitStatus], kinds: frozenset[int]) -> pb.LimitStatus | None:
    found = [limit for limit in limits if limit.kind in kinds]
    if not found:
        return None
    return min(found, key=lambda limit: (limit.remaining, limit.reset_time.ToNanoseconds()))


def ratelimit_headers(limits: Sequence[pb.LimitStatus], now: float) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, kinds in (("requests", REQUEST_KINDS), ("tokens", TOKEN_KINDS)):
        limit = tightest(limits, kinds)
        if limit is None:
            continue
        headers[f"x-ratelimit-limit-{name}"] = str(limit.limit)
        headers[f"x-ratelimit-remaining-{name}"] = str(max(0, limit.remaining))
        headers[f"x-ratelimit-reset-{name}"] = openai_duration(seconds_until(limit, now))
    return headers


__all__ = ["openai_duration", "ratelimit_headers", "seconds_until", "tightest"]
