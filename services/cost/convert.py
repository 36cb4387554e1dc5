"""Protobuf messages of switchboard.cost.v1 to the cost service's types and back."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.cost.v1 import cost_service_pb2 as pb

from services.cost.money import Money
from services.cost.usage import UsageRecord

UNSET = datetime(1970, 1, 1)  # naive on purpose: validation refuses it as "is required"


def usage_record(event: pb.UsageEvent) -> UsageRecord:
    occurred = event.occurred_at.ToDatetime(tzinfo=UTC) if event.HasField("occurred_at") else UNSET
    return UsageRecord(
        request_id=event.request_id,
        occurred_at=occurred,
        tenant=event.tenant,
        subject=event.subject,
        endpoint=event.endpoint,
        model=event.model,
        deployment=event.deployment,
        provider=event.provider,
        upstream_model=event.upstream_model,
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        cached_tokens=event.cached_tokens,
        cache_write_tokens=event.cache_write_tokens,
        reasoning_tokens=event.reasoning_tokens,
        latency_ms=event.latency.ToMilliseconds(),
        outcome=event.outcome or "success",
        cache_hit=event.cache_hit,
        prompt_name=event.prompt_name,
        prompt_version=event.prompt_version,
        flag_variants=dict(event.flag_variants),
        user=event.user,
        api_key_id=event.api_key_id,
    )


def money(value: Money) -> pb.Money:
    return pb.Money(currency_code=value.currency, nanos=value.nanos)


def money_from(message: pb.Money) -> Money:
    return Money(message.currency_code, message.nanos)


def timestamp(value: datetime) -> Timestamp:
    message = Timestamp()
    message.FromDatetime(value)
    return message
