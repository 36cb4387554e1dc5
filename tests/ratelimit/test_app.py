"""The assembled service in process: both APIs on one port, wiring of stores and settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as pb_grpc

from services.ratelimit.app import RateLimitService, build
from services.ratelimit.settings import load
from services.ratelimit.tiers import TiersFileError
from svckit.testing import serving
from tests.ratelimit.fake_clock import FakeClock, utc

ENVOY = """
domain: llm
descriptors:
  - key: api_key
    rate_limit: {unit: minute, requests_per_unit: 2}
"""


def _envoy_request(domain: str = "llm") -> rls_pb2.RateLimitRequest:
    entry = ratelimit_pb2.RateLimitDescriptor.Entry(key="api_key", value="k1")
    return rls_pb2.RateLimitRequest(
        domain=domain, descriptors=[ratelimit_pb2.RateLimitDescriptor(entries=[entry])]
    )


def _service(env: dict[str, str], clock: FakeClock) -> RateLimitService:
    return build(load(env), clock=clock)


@pytest.fixture
def envoy_dir(tmp_path: Path) -> Path:
    (tmp_path / "llm.yaml").write_text(ENVOY)
    return tmp_path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc(2025, 1, 6, 12, 0, 30))


@pytest.fixture(params=["memory", "redis"])
def env(request: pytest.FixtureRequest, envoy_dir: Path, key_prefix: str) -> dict[str, str]:
    values = {"RATELIMIT_ENVOY_CONFIG_DIR": str(envoy_dir), "RATELIMIT_KEY_PREFIX": key_prefix}
    if request.param == "redis":
        values["RATELIMIT_REDIS_URL"] = request.getfixturevalue("redis_available")
    return values


async def test_both_apis_share_one_port_and_one_clock(
    env: dict[str, str], clock: FakeClock
) -> None:
    service = _service(env, clock)
    async with serving(service.app) as (_, channel):
        quota = pb_grpc.RateLimitServiceStub(channel)
        envoy = rls_pb2_grpc.RateLimitServiceStub(channel)
        subject = pb.QuotaSubject(name="keys/app-test", tier="free")
        check = await quota.CheckQuota(pb.CheckQuotaRequest(subjects=[subject], estimated_tokens=7))
        codes = [(await envoy.ShouldRateLimit(_envoy_request())).overall_code for _ in range(3)]
        tiers = await quota.ListTiers(pb.ListTiersRequest())
    assert check.allowed
    assert check.reservation_expire_time.seconds == int(clock.now) + 600
    ok, over = rls_pb2.RateLimitResponse.OK, rls_pb2.RateLimitResponse.OVER_LIMIT
    assert codes == [ok, ok, over]
    assert [t.name for t in tiers.tiers] == ["free", "starter", "pro", "enterprise"]


async def test_health_is_serving_for_each_api(env: dict[str, str], clock: FakeClock) -> None:
    service = _service(env, clock)
    async with serving(service.app) as (_, channel):
        health = health_pb2_grpc.HealthStub(channel)
        names = ["", "switchboard.ratelimit.v1.RateLimitService"]
        names.append("envoy.service.ratelimit.v3.RateLimitService")
        replies = [await health.Check(health_pb2.HealthCheckRequest(service=n)) for n in names]
    assert {r.status for r in replies} == {health_pb2.HealthCheckResponse.SERVING}


async def test_without_envoy_config_should_rate_limit_is_a_failed_precondition(
    clock: FakeClock,
) -> None:
    service = _service({}, clock)
    async with serving(service.app) as (_, channel):
        envoy = rls_pb2_grpc.RateLimitServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await envoy.ShouldRateLimit(_envoy_request())
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == "no rate limit configuration loaded"


async def test_a_bad_initial_envoy_config_keeps_the_quota_api_working(
    tmp_path: Path, clock: FakeClock
) -> None:
    (tmp_path / "bad.yaml").write_text("domain: llm\ndescriptors:\n  - value: no-key\n")
    service = _service({"RATELIMIT_ENVOY_CONFIG_DIR": str(tmp_path)}, clock)
    async with serving(service.app) as (_, channel):
        quota = pb_grpc.RateLimitServiceStub(channel)
        tiers = await quota.ListTiers(pb.ListTiersRequest())
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await rls_pb2_grpc.RateLimitServiceStub(channel).ShouldRateLimit(_envoy_request())
    assert tiers.tiers
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert service.reloader is not None
    assert service.reloader.last_error == "bad.yaml: descriptor has empty key"


def test_a_bad_tiers_file_stops_start_up(tmp_path: Path) -> None:
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text("tiers:\n  free:\n    requests_per_day: -1\n")
    with pytest.raises(TiersFileError):
        build(load({"RATELIMIT_TIERS_FILE": str(tiers)}))


async def test_per_second_redis_gets_its_own_client_and_probe(
    redis_client: object, redis_url: str, clock: FakeClock
) -> None:
    service = _service(
        {"RATELIMIT_REDIS_URL": redis_url, "RATELIMIT_REDIS_PERSECOND_URL": redis_url}, clock
    )
    assert set(service.app.dependencies) == {"redis", "redis_persecond"}
    assert len(service.redis_clients) == 2
    for probe in service.app.dependencies.values():
        assert await probe()
    for client in service.redis_clients:
        await client.aclose()


def _run_service(**env: str) -> subprocess.CompletedProcess[str]:
    """`python -m services.ratelimit` with extra variables, expected to exit by itself."""
    return subprocess.run(
        [sys.executable, "-m", "services.ratelimit"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_taken_port_is_one_clear_line_and_exit_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_service(
            RATELIMIT_GRPC_HOST="127.0.0.1",
            RATELIMIT_GRPC_PORT=str(port),
            RATELIMIT_METRICS_PORT="0",
        )
    assert done.returncode == 1
    assert f"ratelimit: could not bind 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_settings_are_listed_and_exit_two() -> None:
    done = _run_service(RATELIMIT_GRPC_PORT="x", RATELIMIT_FAILURE_MODE="maybe")
    assert done.returncode == 2
    assert "RATELIMIT_GRPC_PORT" in done.stderr
    assert "RATELIMIT_FAILURE_MODE" in done.stderr
