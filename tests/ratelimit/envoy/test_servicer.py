"""The servicer on a real grpc.aio server, called through Envoy's own stub as Envoy would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import redis.asyncio as aioredis
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.protobuf import wrappers_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.ratelimit.envoy.counters import CounterStore, MemoryCounterStore
from services.ratelimit.envoy.redis_counters import RedisCounterStore
from services.ratelimit.envoy.servicer import EnvoyRateLimitServicer
from services.ratelimit.envoy.stats import EnvoyStats
from svckit.server import Registration, ServiceApp
from svckit.testing import serving

from .harness import FakeClock, config_from, make_decider, options

CONFIG = """
domain: edge
descriptors:
  - key: remote_address
    rate_limit: {unit: minute, requests_per_unit: 2, name: per-ip}
  - key: tokens
    rate_limit: {unit: minute, requests_per_unit: 1000}
"""

Response = rls_pb2.RateLimitResponse
SERVICE = "envoy.service.ratelimit.v3.RateLimitService"


def envoy_request(
    domain: str, *pairs: tuple[str, str], hits: int | None = None
) -> rls_pb2.RateLimitRequest:
    item = ratelimit_pb2.RateLimitDescriptor(
        entries=[ratelimit_pb2.RateLimitDescriptor.Entry(key=k, value=v) for k, v in pairs]
    )
    if hits is not None:
        item.hits_addend.CopyFrom(wrappers_pb2.UInt64Value(value=hits))
    return rls_pb2.RateLimitRequest(domain=domain, descriptors=[item] if pairs else [])


def servicer(clock: FakeClock, store: CounterStore | None = None) -> EnvoyRateLimitServicer:
    decider = make_decider(
        config_from(CONFIG),
        store or MemoryCounterStore(clock),
        EnvoyStats(CollectorRegistry()),
        clock,
        settings=options(response_headers_enabled=True),
    )
    return EnvoyRateLimitServicer(decider)


@pytest.fixture
async def plain_stub(clock: FakeClock) -> AsyncIterator[rls_pb2_grpc.RateLimitServiceStub]:
    """A bare grpc.aio server with only the servicer registered."""
    server = grpc.aio.server()
    rls_pb2_grpc.add_RateLimitServiceServicer_to_server(servicer(clock), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield rls_pb2_grpc.RateLimitServiceStub(channel)
    finally:
        await channel.close()
        await server.stop(grace=None)


async def test_envoy_stub_gets_over_limit_as_data(
    plain_stub: rls_pb2_grpc.RateLimitServiceStub, clock: FakeClock
) -> None:
    clock.now = 1202
    req = envoy_request("edge", ("remote_address", "10.0.0.1"))
    first = await plain_stub.ShouldRateLimit(req)
    await plain_stub.ShouldRateLimit(req)
    third = await plain_stub.ShouldRateLimit(req)
    assert first.overall_code == Response.OK
    status = first.statuses[0]
    assert (status.code, status.limit_remaining) == (Response.OK, 1)
    assert status.current_limit.requests_per_unit == 2
    assert status.current_limit.unit == Response.RateLimit.MINUTE
    assert status.current_limit.name == "per-ip"
    assert status.duration_until_reset.seconds == 58
    assert third.overall_code == Response.OVER_LIMIT
    assert third.statuses[0].code == Response.OVER_LIMIT
    headers = {h.key: h.value for h in third.response_headers_to_add}
    assert headers == {"RateLimit-Limit": "2", "RateLimit-Remaining": "0", "RateLimit-Reset": "58"}


async def test_per_descriptor_hits_addend_and_unknown_domain(
    plain_stub: rls_pb2_grpc.RateLimitServiceStub,
) -> None:
    tokens = await plain_stub.ShouldRateLimit(envoy_request("edge", ("tokens", "t"), hits=400))
    assert tokens.statuses[0].limit_remaining == 600
    unknown = await plain_stub.ShouldRateLimit(envoy_request("nowhere", ("tokens", "t")))
    assert unknown.overall_code == Response.OK
    assert not unknown.statuses[0].HasField("current_limit")
    assert not unknown.statuses[0].HasField("duration_until_reset")


async def test_bad_input_is_not_an_ok_status(
    plain_stub: rls_pb2_grpc.RateLimitServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await plain_stub.ShouldRateLimit(envoy_request("", ("tokens", "t")))
    assert caught.value.code() != grpc.StatusCode.OK


def app_for(envoy: EnvoyRateLimitServicer) -> ServiceApp:
    return ServiceApp(
        name="ratelimit",
        registrations=[Registration(SERVICE, envoy.add_to_server)],
        registry=CollectorRegistry(),
    )


async def test_service_kit_maps_errors_to_canonical_codes(clock: FakeClock) -> None:
    async with serving(app_for(servicer(clock))) as (_, channel):
        stub = rls_pb2_grpc.RateLimitServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ShouldRateLimit(envoy_request("edge"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "rate limit descriptor list must not be empty"
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad_request) for detail in status.details)
    assert [v.field for v in bad_request.field_violations] == ["descriptors"]


async def test_store_down_reaches_envoy_as_unavailable(clock: FakeClock) -> None:
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        envoy = servicer(clock, RedisCounterStore(client))
        async with serving(app_for(envoy)) as (_, channel):
            stub = rls_pb2_grpc.RateLimitServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ShouldRateLimit(envoy_request("edge", ("tokens", "t")))
    finally:
        await client.aclose()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
