"""Conversions between `switchboard.ratelimit.v1` messages and the limiter's types, and nothing
else: no defaults, no checks (the limiter validates), so the servicer stays a list of one-liners.

Times are seconds since the epoch on the domain side and Timestamps/Durations on the wire; an
`optional int64` that is unset becomes None, which means "no such limit" or "keep the tier's".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb

from services.ratelimit.limiter import CheckResult
from services.ratelimit.limits import LimitKind, LimitStatus
from services.ratelimit.overrides import Override
from services.ratelimit.subjects import QuotaSubject
from services.ratelimit.tiers import Limits, Tier

_KINDS = {
    LimitKind.REQUESTS_PER_DAY: pb.LIMIT_KIND_REQUESTS_PER_DAY,
    LimitKind.REQUESTS_PER_MINUTE: pb.LIMIT_KIND_REQUESTS_PER_MINUTE,
    LimitKind.TOKENS_PER_MINUTE: pb.LIMIT_KIND_TOKENS_PER_MINUTE,
}


def subjects_from_proto(subjects: Iterable[pb.QuotaSubject]) -> list[QuotaSubject]:
    return [QuotaSubject(name=subject.name, tier=subject.tier) for subject in subjects]


def check_response(result: CheckResult) -> pb.CheckQuotaResponse:
    response = pb.CheckQuotaResponse(
        allowed=result.allowed, backend_unavailable=result.backend_unavailable
    )
    add_limit_statuses(response.limits, result.limits)
    if result.retry_after is not None:
        response.retry_after.seconds = result.retry_after
    if result.reservation_id is not None:
        response.reservation_id = result.reservation_id
    if result.reservation_expire_time is not None:
        _set_timestamp(response.reservation_expire_time, result.reservation_expire_time)
    return response


def add_limit_statuses(target: Any, statuses: Iterable[LimitStatus]) -> None:
    """Appends each status to the repeated field `target` (built in place: this is hot)."""
    for status in statuses:
        message = target.add(
            subject=status.subject,
            kind=_KINDS[status.kind],
            model=status.model,
            limit=status.limit,
            remaining=status.remaining,
            exceeded=status.exceeded,
            overridden=status.overridden,
        )
        message.reset_time.seconds = status.reset_time


def override_from_proto(message: pb.QuotaOverride) -> Override:
    return Override(
        subject=message.subject,
        requests_per_day=_optional(message, "requests_per_day"),
        requests_per_minute=_optional(message, "requests_per_minute"),
        tokens_per_minute=_optional(message, "tokens_per_minute"),
        reason=message.reason,
        expire_time=_seconds(message.expire_time) if message.HasField("expire_time") else None,
    )


def override_to_proto(override: Override) -> pb.QuotaOverride:
    message = pb.QuotaOverride(
        subject=override.subject,
        requests_per_day=override.requests_per_day,
        requests_per_minute=override.requests_per_minute,
        tokens_per_minute=override.tokens_per_minute,
        reason=override.reason,
    )
    if override.expire_time is not None:
        message.expire_time.CopyFrom(_timestamp(override.expire_time))
    return message


def tiers_to_proto(tiers: Mapping[str, Tier]) -> list[pb.Tier]:
    return [
        pb.Tier(
            name=name,
            **_limit_fields(tier),
            models=[
                pb.ModelLimits(model=model, **_limit_fields(limits))
                for model, limits in tier.models.items()
            ],
        )
        for name, tier in tiers.items()
    ]


def _limit_fields(limits: Limits) -> dict[str, int | None]:
    return {
        "requests_per_day": limits.requests_per_day,
        "requests_per_minute": limits.requests_per_minute,
        "tokens_per_minute": limits.tokens_per_minute,
    }


def _optional(message: pb.QuotaOverride, field: str) -> int | None:
    value: int | None = getattr(message, field) if message.HasField(field) else None
    return value


def _timestamp(seconds: float) -> Timestamp:
    timestamp = Timestamp()
    _set_timestamp(timestamp, seconds)
    return timestamp


def _set_timestamp(target: Timestamp, seconds: float) -> None:
    """Fills a Timestamp field in place (no message built and copied: checks do this)."""
    whole = math.floor(seconds)
    target.seconds = whole
    target.nanos = min(999_999_999, round((seconds - whole) * 1e9))


def _seconds(timestamp: Timestamp) -> float:
    return timestamp.seconds + timestamp.nanos / 1e9
