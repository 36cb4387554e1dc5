"""The rate-limit service as its container runs it: real processes, real Redis, real signals.

- two replicas sharing one Redis admit exactly the limit under 200 concurrent callers;
- Redis stopped mid-test: answers follow the failure mode, readiness follows Redis, recovery;
- SIGTERM with calls in flight: they complete, new calls are refused, the process exits 0.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from grpc_health.v1 import health_pb2
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as pb_grpc

from tests.redis_server import RedisServer
from tests.service_process import ServiceProcess, stop_all

pytestmark = pytest.mark.slow

TIERS = """
tiers:
  exact:
    requests_per_day: 500
  tokens:
    tokens_per_minute: 50000
  roomy:
    requests_per_minute: 100000
"""
ENVOY = """
domain: llm
descriptors:
  - key: api_key
    rate_limit: {unit: day, requests_per_unit: 1000}
"""
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "tiers.yaml").write_text(TIERS)
    envoy = tmp_path / "envoy"
    envoy.mkdir()
    (envoy / "llm.yaml").write_text(ENVOY)
    return tmp_path


def _env(config_dir: Path, redis_url: str, key_prefix: str, **extra: str) -> dict[str, str]:
    return {
        "RATELIMIT_REDIS_URL": redis_url,
        "RATELIMIT_KEY_PREFIX": key_prefix,
        "RATELIMIT_TIERS_FILE": str(config_dir / "tiers.yaml"),
        "RATELIMIT_ENVOY_CONFIG_DIR": str(config_dir / "envoy"),
        "RATELIMIT_HEALTH_PROBE_INTERVAL_SECONDS": "0.1",
        **extra,
    }


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    """The test's service processes; all reaped at teardown, which fails on a bad shutdown."""
    started: list[ServiceProcess] = []
    try:
        yield started
    finally:
        stop_all(started)


def _start(services: list[ServiceProcess], tmp_path: Path, env: dict[str, str]) -> ServiceProcess:
    service = ServiceProcess(env, tmp_path / f"service-{len(services)}.log")
    services.append(service)
    service.start()
    return service


def _check(subject: str, tier: str, tokens: int = 0) -> pb.CheckQuotaRequest:
    return pb.CheckQuotaRequest(
        subjects=[pb.QuotaSubject(name=subject, tier=tier)], model="gpt-4o", estimated_tokens=tokens
    )


def _wait_for_fresh_window(length: int, margin: float = 20.0) -> None:
    """Limits count in fixed windows: start with enough of the window left to finish in it."""
    left = length - time.time() % length
    if left < margin:
        time.sleep(left + 0.05)


@pytest.fixture
async def replica_stubs(
    config_dir: Path,
    redis_url: str,
    key_prefix: str,
    redis_client: aioredis.Redis,
    services: list[ServiceProcess],
    tmp_path: Path,
) -> AsyncIterator[list[pb_grpc.RateLimitServiceStub]]:
    """Two service processes sharing the test's Redis (and key prefix), one stub each."""
    env = _env(config_dir, redis_url, key_prefix)
    replicas = [_start(services, tmp_path, env) for _ in range(2)]
    channels = [grpc.aio.insecure_channel(r.address) for r in replicas]
    try:
        yield [pb_grpc.RateLimitServiceStub(c) for c in channels]
    finally:
        for channel in channels:
            await channel.close()


async def test_two_replicas_admit_exactly_the_request_limit(
    replica_stubs: list[pb_grpc.RateLimitServiceStub],
) -> None:
    stubs = replica_stubs
    subject = f"keys/{uuid.uuid4().hex}"
    _wait_for_fresh_window(86_400)

    async def caller(index: int) -> int:
        admitted = 0
        for attempt in range(4):
            reply = await stubs[(index + attempt) % 2].CheckQuota(_check(subject, "exact"))
            assert not reply.backend_unavailable
            admitted += reply.allowed
        return admitted

    results = await asyncio.gather(*(caller(i) for i in range(200)))
    usage = await stubs[0].GetUsage(pb.GetUsageRequest(subject=subject, tier="exact"))
    assert sum(results) == 500
    assert [(u.limit, u.remaining) for u in usage.limits] == [(500, 0)]


async def test_two_replicas_admit_exactly_the_token_limit_with_commits(
    replica_stubs: list[pb_grpc.RateLimitServiceStub],
) -> None:
    stubs = replica_stubs
    subject = f"tenants/{uuid.uuid4().hex}"
    _wait_for_fresh_window(60)

    async def caller(index: int) -> int:
        admitted = 0
        for attempt in range(4):
            stub = stubs[(index + attempt) % 2]
            reply = await stub.CheckQuota(_check(subject, "tokens", tokens=100))
            assert not reply.backend_unavailable
            if reply.allowed:
                admitted += 1
                # Commit through the other replica: reservations are shared state too.
                other = stubs[(index + attempt + 1) % 2]
                commit = pb.CommitReservationRequest(
                    reservation_id=reply.reservation_id, actual_tokens=100
                )
                assert (await other.CommitReservation(commit)).actual_tokens == 100
        return admitted

    results = await asyncio.gather(*(caller(i) for i in range(200)))
    usage = await stubs[1].GetUsage(pb.GetUsageRequest(subject=subject, tier="tokens"))
    assert sum(results) == 500
    assert [(u.limit, u.remaining) for u in usage.limits] == [(50000, 0)]


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_redis_outage_follows_failure_mode_and_recovers(
    mode: str,
    config_dir: Path,
    private_redis: RedisServer,
    services: list[ServiceProcess],
    tmp_path: Path,
) -> None:
    env = _env(config_dir, private_redis.url, "t:", RATELIMIT_FAILURE_MODE=mode)
    service = _start(services, tmp_path, env)
    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = pb_grpc.RateLimitServiceStub(channel)
        envoy = rls_pb2_grpc.RateLimitServiceStub(channel)
        before = await stub.CheckQuota(_check("keys/a", "roomy"))
        assert (before.allowed, before.backend_unavailable) == (True, False)

        private_redis.stop()
        during = await stub.CheckQuota(_check("keys/a", "roomy"))
        assert during.backend_unavailable
        assert during.allowed is (mode == "open")
        assert not during.reservation_id
        with pytest.raises(grpc.aio.AioRpcError) as envoy_error:
            await envoy.ShouldRateLimit(_envoy_request("k1"))
        assert envoy_error.value.code() == grpc.StatusCode.UNAVAILABLE
        commit = pb.CommitReservationRequest(reservation_id=before.reservation_id)
        with pytest.raises(grpc.aio.AioRpcError) as commit_error:
            await stub.CommitReservation(commit)
        assert commit_error.value.code() == grpc.StatusCode.UNAVAILABLE
        await asyncio.to_thread(service.wait_for_health, NOT_SERVING)
        assert service.metric("ratelimit_backend_failures_total") >= 1

        private_redis.start()
        await asyncio.to_thread(service.wait_for_health, SERVING)
        after = await stub.CheckQuota(_check("keys/a", "roomy"))
        assert (after.allowed, after.backend_unavailable) == (True, False)
        usage = await stub.GetUsage(pb.GetUsageRequest(subject="keys/a", tier="roomy"))
    # Redis restarted empty (it keeps nothing on disk): only the call after recovery counts.
    assert usage.limits[0].limit - usage.limits[0].remaining == 1


def _envoy_request(key: str) -> rls_pb2.RateLimitRequest:
    entry = ratelimit_pb2.RateLimitDescriptor.Entry(key="api_key", value=key)
    return rls_pb2.RateLimitRequest(
        domain="llm", descriptors=[ratelimit_pb2.RateLimitDescriptor(entries=[entry])]
    )


async def test_sigterm_drains_in_flight_calls_refuses_new_ones_and_exits_zero(
    config_dir: Path,
    private_redis: RedisServer,
    services: list[ServiceProcess],
    tmp_path: Path,
) -> None:
    env = _env(
        config_dir,
        private_redis.url,
        "t:",
        RATELIMIT_REDIS_TIMEOUT_SECONDS="10",
        RATELIMIT_HEALTH_PROBE_INTERVAL_SECONDS="30",
    )
    service = _start(services, tmp_path, env)
    admin = aioredis.Redis.from_url(private_redis.url)
    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = pb_grpc.RateLimitServiceStub(channel)
        await stub.CheckQuota(_check("keys/warm", "roomy"))  # opens pooled connections
        # Hold every Redis command for 2 s so the calls below are in flight at SIGTERM.
        await admin.client_pause(2000, all=True)
        in_flight = [
            asyncio.ensure_future(stub.CheckQuota(_check(f"keys/u{i}", "roomy"))) for i in range(20)
        ]
        await _wait_until(lambda: service.metric("grpc_server_in_flight") >= 20)
        service.terminate()
        refused = await _first_refusal(stub)
        replies = await asyncio.gather(*in_flight)
    await admin.aclose()
    code = await asyncio.to_thread(service.wait, 30)
    # Which code a refused call gets depends on where it meets the shutdown: after the GOAWAY
    # the channel reports UNAVAILABLE; a stream that reached the server as it stopped accepting
    # is cancelled by grpc-core. Either way the call was refused, never served.
    assert refused in REFUSALS
    assert all(r.allowed and not r.backend_unavailable for r in replies)
    assert code == 0
    assert '"message": "stopped"' in service.log()


REFUSALS = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED}


async def _wait_until(condition: Callable[[], bool], within: float = 10) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def _first_refusal(stub: pb_grpc.RateLimitServiceStub) -> grpc.StatusCode:
    """Call a method that needs no Redis until the draining server refuses it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            await stub.ListTiers(pb.ListTiersRequest(), timeout=2)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        await asyncio.sleep(0.01)
    raise AssertionError("the server kept accepting calls after SIGTERM")
