"""Building requests and reading answers in the cost service's tests."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from switchboard.cost.v1 import cost_service_pb2 as pb

NOW = datetime.now(UTC).replace(microsecond=0)
MILLION = 1_000_000


def at(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def event(request_id: str, *, when: datetime = NOW, **fields: object) -> pb.UsageEvent:
    values: dict[str, object] = {
        "tenant": "acme",
        "subject": "users/u1",
        "user": "u1",
        "model": "house-model",
        "provider": "house",
        "upstream_model": "house-1",
        "endpoint": "/v1/chat/completions",
        "input_tokens": 1000,
        "output_tokens": 500,
        "outcome": "success",
        **fields,
    }
    return pb.UsageEvent(request_id=request_id, occurred_at=at(when), **values)  # type: ignore[arg-type]


def house_price(input_nanos: int, output_nanos: int, when: datetime) -> pb.Price:
    """A price for the test's own model, per million tokens, in USD nanos."""
    return pb.Price(
        provider="house",
        model="house-1",
        valid_from=at(when),
        currency_code="USD",
        input_per_million=input_nanos,
        output_per_million=output_nanos,
    )


def fields_of(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)
    assert isinstance(status, status_pb2.Status)
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return [v.field for v in bad.field_violations]
    return []
