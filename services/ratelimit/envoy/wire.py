"""Conversion between Envoy's RLS protobuf messages (from `xds-protos`) and the domain types.

The messages are Envoy's own (`envoy.service.ratelimit.v3`), used as published and never
re-declared. The stubs carry no type information, so this module is the one place where
untyped protobuf objects meet the typed code.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from services.ratelimit.envoy.accounting import DescriptorStatus
from services.ratelimit.envoy.decision import RateLimitDecision
from services.ratelimit.envoy.request import Descriptor, Entry, Override, RateLimitRequest


def request_from_proto(message: Any) -> RateLimitRequest:
    """A `RateLimitRequest` message as the domain request (not yet validated)."""
    return RateLimitRequest(
        domain=message.domain,
        descriptors=tuple(_descriptor(d) for d in message.descriptors),
        hits_addend=message.hits_addend,
    )


def _descriptor(message: Any) -> Descriptor:
    override = None
    if message.HasField("limit"):
        override = Override(message.limit.requests_per_unit, message.limit.unit)
    hits_addend = message.hits_addend.value if message.HasField("hits_addend") else None
    return Descriptor(
        entries=tuple(Entry(e.key, e.value) for e in message.entries),
        override=override,
        hits_addend=hits_addend,
    )


def response_to_proto(decision: RateLimitDecision) -> Any:
    """The decision as a `RateLimitResponse` message."""
    response = rls_pb2.RateLimitResponse(overall_code=decision.overall_code.value)
    response.statuses.extend(_status(s) for s in decision.statuses)
    response.response_headers_to_add.extend(
        base_pb2.HeaderValue(key=key, value=value) for key, value in decision.response_headers
    )
    return response


def _status(status: DescriptorStatus) -> Any:
    message = rls_pb2.RateLimitResponse.DescriptorStatus(
        code=status.code.value, limit_remaining=status.limit_remaining
    )
    if status.current_limit is not None:
        limit = status.current_limit
        message.current_limit.requests_per_unit = limit.requests_per_unit
        message.current_limit.unit = limit.unit.value
        message.current_limit.name = limit.name
    if status.seconds_until_reset is not None:
        message.duration_until_reset.seconds = status.seconds_until_reset
    return message
