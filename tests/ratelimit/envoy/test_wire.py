"""Conversion between Envoy's messages and the domain types."""

from __future__ import annotations

from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2
from google.protobuf import wrappers_pb2

from services.ratelimit.envoy.accounting import UNLIMITED, Code, DescriptorStatus
from services.ratelimit.envoy.decision import RateLimitDecision
from services.ratelimit.envoy.request import Entry, Override
from services.ratelimit.envoy.rules import UINT32_MAX, RateLimit, Unit
from services.ratelimit.envoy.wire import request_from_proto, response_to_proto

Descriptor = ratelimit_pb2.RateLimitDescriptor
Response = rls_pb2.RateLimitResponse


def test_request_fields() -> None:
    message = rls_pb2.RateLimitRequest(
        domain="d",
        hits_addend=3,
        descriptors=[
            Descriptor(
                entries=[Descriptor.Entry(key="k", value="v")],
                limit=Descriptor.RateLimitOverride(requests_per_unit=42, unit=3),
                hits_addend=wrappers_pb2.UInt64Value(value=0),
            ),
            Descriptor(entries=[Descriptor.Entry(key="only")]),
        ],
    )
    converted = request_from_proto(message)
    assert (converted.domain, converted.hits_addend) == ("d", 3)
    first, second = converted.descriptors
    assert first.entries == (Entry("k", "v"),)
    assert first.override == Override(42, Unit.HOUR)
    assert first.hits_addend == 0
    assert (second.entries, second.override, second.hits_addend) == (
        (Entry("only", ""),),
        None,
        None,
    )


def test_response_fields() -> None:
    decision = RateLimitDecision(
        Code.OVER_LIMIT,
        (
            DescriptorStatus(Code.OVER_LIMIT, RateLimit(10, Unit.WEEK, "w"), 0, 99),
            DescriptorStatus(Code.OK),
            UNLIMITED,
        ),
        (("RateLimit-Limit", "10"),),
    )
    message = response_to_proto(decision)
    assert message.overall_code == Response.OVER_LIMIT
    over, plain, unlimited = message.statuses
    assert over.current_limit.unit == Response.RateLimit.WEEK
    assert (over.current_limit.requests_per_unit, over.current_limit.name) == (10, "w")
    assert over.duration_until_reset.seconds == 99
    assert not plain.HasField("current_limit")
    assert not plain.HasField("duration_until_reset")
    assert unlimited.limit_remaining == UINT32_MAX
    assert [(h.key, h.value) for h in message.response_headers_to_add] == [
        ("RateLimit-Limit", "10")
    ]
