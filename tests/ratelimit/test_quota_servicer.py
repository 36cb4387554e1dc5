"""The servicer on a real grpc.aio server on port 0, called through the generated stub, with
the error interceptor every service installs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2, status_pb2
from prometheus_client import CollectorRegistry
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as pb_grpc

from services.ratelimit.limiter import Limiter
from services.ratelimit.memory_quota_store import MemoryQuotaStore
from services.ratelimit.quota_servicer import SERVICE_NAME, QuotaServicer
from services.ratelimit.tiers import TierCatalog
from svckit.interceptors import ServerCallInterceptor
from svckit.metrics import RpcMetrics

from .conftest import NOON
from .fake_clock import FakeClock

DOMAIN = "ratelimit.switchboard"


@pytest.fixture
async def stub(
    tiers: TierCatalog, fake_clock: FakeClock
) -> AsyncIterator[pb_grpc.RateLimitServiceStub]:
    limiter = Limiter(MemoryQuotaStore(), tiers, clock=fake_clock)
    server = grpc.aio.server(
        interceptors=[ServerCallInterceptor(DOMAIN, RpcMetrics(CollectorRegistry()))]
    )
    servicer = QuotaServicer(limiter)
    pb_grpc.add_RateLimitServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.RateLimitServiceStub(channel)
    await server.stop(grace=None)


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    [details] = [v for k, v in error.trailing_metadata() if k == "grpc-status-details-bin"]
    return status_pb2.Status.FromString(details)


def subject(name: str, tier: str = "basic") -> pb.QuotaSubject:
    return pb.QuotaSubject(name=name, tier=tier)


def test_service_name() -> None:
    assert SERVICE_NAME == "switchboard.ratelimit.v1.RateLimitService"


async def test_an_admitted_check(stub: pb_grpc.RateLimitServiceStub) -> None:
    response = await stub.CheckQuota(
        pb.CheckQuotaRequest(subjects=[subject("keys/k1")], model="gpt-4o", estimated_tokens=100)
    )
    assert response.allowed
    assert not response.HasField("retry_after")
    assert len(response.reservation_id) == 32
    assert response.reservation_expire_time == Timestamp(seconds=int(NOON) + 600)
    first = response.limits[0]
    assert (first.subject, first.kind, first.model, first.limit, first.remaining) == (
        "keys/k1",
        pb.LIMIT_KIND_REQUESTS_PER_DAY,
        "",
        5,
        4,
    )
    assert first.reset_time == Timestamp(seconds=int(NOON) // 86400 * 86400 + 86400)
    assert [limit.kind for limit in response.limits][2:] == [
        pb.LIMIT_KIND_REQUESTS_PER_MINUTE,
        pb.LIMIT_KIND_TOKENS_PER_MINUTE,
        pb.LIMIT_KIND_TOKENS_PER_MINUTE,
    ]
    assert response.limits[2].model == "gpt-4o"


async def test_a_refused_check_is_an_answer_not_an_error(
    stub: pb_grpc.RateLimitServiceStub,
) -> None:
    request = pb.CheckQuotaRequest(subjects=[subject("keys/k1", "daily")])
    for _ in range(2):
        await stub.CheckQuota(request)
    response = await stub.CheckQuota(request)
    assert not response.allowed
    assert response.reservation_id == ""
    assert not response.HasField("reservation_expire_time")
    assert response.retry_after.seconds == 12 * 3600
    assert response.limits[0].exceeded
    assert not response.backend_unavailable


async def test_commit_and_release(stub: pb_grpc.RateLimitServiceStub) -> None:
    check = pb.CheckQuotaRequest(subjects=[subject("keys/k1")], estimated_tokens=100)
    committed = (await stub.CheckQuota(check)).reservation_id
    released = (await stub.CheckQuota(check)).reservation_id
    commit = pb.CommitReservationRequest(reservation_id=committed, actual_tokens=70)
    assert await stub.CommitReservation(commit) == pb.CommitReservationResponse(
        reserved_tokens=100, actual_tokens=70
    )
    release = pb.ReleaseReservationRequest(reservation_id=released)
    assert (await stub.ReleaseReservation(release)).released_tokens == 100
    usage = await stub.GetUsage(pb.GetUsageRequest(subject="keys/k1", tier="basic"))
    assert [limit.remaining for limit in usage.limits] == [4, 2, 930]


async def test_usage_reset_and_tiers(stub: pb_grpc.RateLimitServiceStub) -> None:
    await stub.CheckQuota(pb.CheckQuotaRequest(subjects=[subject("keys/k1")], model="gpt-4o"))
    usage = await stub.GetUsage(pb.GetUsageRequest(subject="keys/k1", tier="basic", model="gpt-4o"))
    assert len(usage.limits) == 5
    reset = await stub.ResetUsage(pb.ResetUsageRequest(subject="keys/k1"))
    assert reset.deleted_counters == 5
    tiers = (await stub.ListTiers(pb.ListTiersRequest())).tiers
    basic = tiers[0]
    assert (basic.name, basic.requests_per_day, basic.tokens_per_minute) == ("basic", 5, 1000)
    assert [(m.model, m.requests_per_minute) for m in basic.models] == [("gpt-4o", 2)]
    assert not basic.models[0].HasField("requests_per_day")
    daily = tiers[1]
    assert (daily.name, daily.HasField("requests_per_minute")) == ("daily", False)


async def test_override_round_trip(stub: pb_grpc.RateLimitServiceStub) -> None:
    override = pb.QuotaOverride(
        subject="keys/k1",
        requests_per_minute=0,
        reason="abuse report 42",
        expire_time=Timestamp(seconds=int(NOON) + 3600, nanos=500_000_000),
    )
    stored = (await stub.SetOverride(pb.SetOverrideRequest(override=override))).override
    assert stored == override
    assert not stored.HasField("requests_per_day")
    got = await stub.GetOverride(pb.GetOverrideRequest(subject="keys/k1"))
    assert got.override == override
    refused = await stub.CheckQuota(pb.CheckQuotaRequest(subjects=[subject("keys/k1")]))
    assert not refused.allowed
    assert refused.limits[1].overridden
    await stub.DeleteOverride(pb.DeleteOverrideRequest(subject="keys/k1"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetOverride(pb.GetOverrideRequest(subject="keys/k1"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_override_without_expiry_stays_without(
    stub: pb_grpc.RateLimitServiceStub,
) -> None:
    override = pb.QuotaOverride(subject="users/u1", tokens_per_minute=10)
    stored = (await stub.SetOverride(pb.SetOverrideRequest(override=override))).override
    assert not stored.HasField("expire_time")


async def test_bad_input_is_invalid_argument_with_field_violations(
    stub: pb_grpc.RateLimitServiceStub,
) -> None:
    request = pb.CheckQuotaRequest(
        subjects=[subject("keys/k1"), subject("keys/k1", "gold")], estimated_tokens=-1
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CheckQuota(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, bad_request = (error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest())
    details = status_of(caught.value).details
    assert details[0].Unpack(info)
    assert details[1].Unpack(bad_request)
    assert (info.reason, info.domain) == ("INVALID_ARGUMENT", DOMAIN)
    assert [v.field for v in bad_request.field_violations] == [
        "subjects[1].name",
        "subjects[1].tier",
        "estimated_tokens",
    ]


async def test_reservation_errors_carry_their_reason(
    stub: pb_grpc.RateLimitServiceStub,
) -> None:
    reservation_id = (
        await stub.CheckQuota(pb.CheckQuotaRequest(subjects=[subject("keys/k1")]))
    ).reservation_id
    await stub.ReleaseReservation(pb.ReleaseReservationRequest(reservation_id=reservation_id))
    unknown = pb.CommitReservationRequest(reservation_id="nope")
    released = pb.CommitReservationRequest(reservation_id=reservation_id)
    with pytest.raises(grpc.aio.AioRpcError) as not_found:
        await stub.CommitReservation(unknown)
    with pytest.raises(grpc.aio.AioRpcError) as conflict:
        await stub.CommitReservation(released)
    expected = [
        (not_found, grpc.StatusCode.NOT_FOUND, "RESERVATION_NOT_FOUND"),
        (conflict, grpc.StatusCode.FAILED_PRECONDITION, "RESERVATION_ALREADY_SETTLED"),
    ]
    for caught, code, reason in expected:
        assert caught.value.code() == code
        info = error_details_pb2.ErrorInfo()
        assert status_of(caught.value).details[0].Unpack(info)
        assert info.reason == reason
