"""Building requests and reading results in the router's service tests."""

from __future__ import annotations

from typing import Any

import grpc
import redis.asyncio as aioredis
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from switchboard.router.v1 import router_service_pb2 as pb

from services.router.memory_usage_sink import MemoryUsageSink
from services.router.redis_usage_sink import RedisUsageSink
from services.router.usage_events import UsageEvent

from .conftest import RunningRouter


def ask(
    model: str,
    question: str = "What is a circuit breaker?",
    *,
    temperature: float | None = None,
    **fields: Any,
) -> pb.CompleteRequest:
    request = pb.CompleteRequest(
        model=model, messages=[pb.ChatMessage(role="user", content=question)], **fields
    )
    if temperature is not None:
        request.temperature = temperature
    return request


def ttl(seconds: float) -> Duration:
    value = Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def details(error: grpc.aio.AioRpcError) -> tuple[str, dict[str, str], list[str]]:
    """(ErrorInfo reason, its metadata, the BadRequest fields) of a failed call."""
    status = rpc_status.from_call(error)
    assert isinstance(status, status_pb2.Status)
    reason, metadata, fields = "", {}, []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(bad):
            fields = [v.field for v in bad.field_violations]
    return reason, metadata, fields


async def usage_events(running: RunningRouter) -> list[UsageEvent]:
    """Every usage event emitted so far, from the in-process queue or the Redis Stream."""
    sink = running.service.usage
    if isinstance(sink, MemoryUsageSink):
        return sink.drain()
    assert isinstance(sink, RedisUsageSink)
    await sink.flush(5)
    client = aioredis.Redis.from_url(running.settings.redis_url)
    try:
        entries = await client.xrange(f"{running.settings.key_prefix}usage")
    finally:
        await client.aclose()
    return [UsageEvent.from_fields(fields or {}) for _, fields in entries or []]
