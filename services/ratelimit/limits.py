"""Limits: which limits apply to a subject's call, the counters they count on, and the rule
that decides whether a limit admits a call.

A subject's own limits (requests per day, requests per minute, tokens per minute) come from its
tier, each replaced by its override's value when the override sets it; they count every call of
the subject whatever the model. The tier's per-model limits for the call's model count the
subject's calls to that model only, in addition. Each limit counts in the fixed window of its kind
that contains the moment of the check; the window is part of the counter's identity, so counts
of past windows are never read again and their expiry is only housekeeping.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from services.ratelimit.overrides import Override
from services.ratelimit.tiers import Limits, Tier
from services.ratelimit.windows import DAY, MINUTE, Window


class LimitKind(enum.Enum):
    """What a limit counts and over which window; the order is the order of a report."""

    REQUESTS_PER_DAY = "requests_per_day"
    REQUESTS_PER_MINUTE = "requests_per_minute"
    TOKENS_PER_MINUTE = "tokens_per_minute"

    # Members are singletons compared by identity; Enum's own __hash__ is Python code, and
    # kinds key dicts on the hot path.
    __hash__ = object.__hash__

    @property
    def window_length(self) -> int:
        return DAY if self is LimitKind.REQUESTS_PER_DAY else MINUTE

    @property
    def counts_tokens(self) -> bool:
        return self is LimitKind.TOKENS_PER_MINUTE


@dataclass(frozen=True)
class CounterKey:
    """One counter: a subject's (or subject and model's) count of one kind in one window."""

    subject: str
    model: str
    """The model for a per-model limit; empty for the subject's own limits."""
    kind: LimitKind
    window_start: int

    @property
    def window(self) -> Window:
        return Window(start=self.window_start, length=self.kind.window_length)


@dataclass(frozen=True)
class Limit:
    """A limit that applies to a call: what it counts, its value and where the value came from."""

    subject: str
    kind: LimitKind
    model: str
    value: int
    overridden: bool

    def counter(self, now: float) -> CounterKey:
        return CounterKey(self.subject, self.model, self.kind, window_start(now, self.kind))

    def cost(self, tokens: int) -> int:
        """What one call adds to the counter: the tokens for a token limit, else one request."""
        return tokens if self.kind.counts_tokens else 1


class LimitStatus(NamedTuple):
    """The state of one limit after a check (or for a usage report).

    A named tuple rather than a frozen dataclass: a check builds one per limit, and a tuple
    is built several times faster, with the same fields, immutability and equality.
    """

    subject: str
    kind: LimitKind
    model: str
    limit: int
    remaining: int
    reset_time: int
    """When the window ends, in seconds since the epoch."""
    exceeded: bool
    overridden: bool


_WINDOW_LENGTHS = {kind: kind.window_length for kind in LimitKind}


def admits(count: int, cost: int, limit: int) -> bool:
    """Whether a window holding `count` admits a call costing `cost`.

    The call must fit, and a window with nothing left admits nothing, not even a call that
    estimates 0 tokens: so a limit of 0 admits nothing at all. The Redis script applies the
    same rule.
    """
    return count + max(cost, 1) <= limit


def applicable_limits(
    subject: str, tier: Tier, override: Override | None, model: str
) -> list[Limit]:
    """The limits of one subject for a call to `model`, in report order: kind, then model."""
    found: list[Limit] = []
    model_limits = tier.models.get(model) if model else None
    for kind in LimitKind:
        own = override.value(kind.value) if override else None
        if own is not None:
            found.append(Limit(subject, kind, "", own, overridden=True))
        elif (value := _value(tier, kind)) is not None:
            found.append(Limit(subject, kind, "", value, overridden=False))
        if model_limits and (value := _value(model_limits, kind)) is not None:
            found.append(Limit(subject, kind, model, value, overridden=False))
    return found


def limit_statuses(
    limits: Sequence[Limit], counts: Sequence[int], tokens: int, *, counted: bool, now: float
) -> list[LimitStatus]:
    """Reports each limit given the counts its window held before the call.

    `counted` says the call was admitted and added its cost; otherwise the counts stand and a
    limit is exceeded when it would not admit the call.
    """
    statuses: list[LimitStatus] = []
    second = int(now)
    for limit, count in zip(limits, counts, strict=True):
        length = _WINDOW_LENGTHS[limit.kind]
        cost = tokens if limit.kind is LimitKind.TOKENS_PER_MINUTE else 1
        used = count + cost if counted else count
        statuses.append(
            LimitStatus(
                limit.subject,
                limit.kind,
                limit.model,
                limit.value,
                max(0, limit.value - used),
                second - second % length + length,
                not counted and not admits(count, cost, limit.value),
                limit.overridden,
            )
        )
    return statuses


def window_start(now: float, kind: LimitKind) -> int:
    """Start of the window of `kind` containing `now` (what `Window.containing` computes,
    without building a Window: this runs for every limit of every check)."""
    second = int(now)
    return second - second % kind.window_length


def retry_after(statuses: Sequence[LimitStatus], tokens: int, now: float) -> int | None:
    """Seconds until every exceeded limit's window has reset; None when no wait helps: an
    exceeded limit would refuse the call even in an empty window (a limit of 0, or a token
    estimate above a tokens-per-minute limit), so a caller told to retry would retry for ever."""
    exceeded = [status for status in statuses if status.exceeded]
    for status in exceeded:
        cost = tokens if status.kind is LimitKind.TOKENS_PER_MINUTE else 1
        if not admits(0, cost, status.limit):
            return None
    return max((max(1, status.reset_time - int(now)) for status in exceeded), default=0)


def _value(limits: Limits, kind: LimitKind) -> int | None:
    value: int | None = getattr(limits, kind.value)
    return value
