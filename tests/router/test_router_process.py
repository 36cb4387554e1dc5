"""`python -m services.router` as its container runs it: start-up failures in one clear line,
and a Redis outage that costs no answers, turns readiness off and back on, and loses no usage
event."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from services.router.usage_events import UsageEvent
from tests.redis_server import RedisServer
from tests.service_process import ServiceProcess, stop_all

from .service_calls import ask

pytestmark = pytest.mark.slow

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _run_router(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.router"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bad_settings_are_listed_at_once_and_exit_two() -> None:
    done = _run_router(ROUTER_GRPC_PORT="x", ROUTER_BREAKER_FAILURE_RATE="2", ROUTER_REDIS_URL="")
    assert done.returncode == 2
    assert "ROUTER_GRPC_PORT" in done.stderr
    assert "ROUTER_BREAKER_FAILURE_RATE" in done.stderr


def test_a_bad_catalogue_stops_start_up_naming_every_problem(tmp_path: Path) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(
        "models:\n  m:\n    deployments:\n"
        "      - {name: a, provider: mock, options: {failure_rate: 3}}\n"
        "      - {name: b, provider: openai}\n"
    )
    done = _run_router(ROUTER_MODELS_FILE=str(models))
    assert done.returncode == 2
    assert "base_url is required" in done.stderr
    assert "failure_rate" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_port_is_one_clear_line_and_exit_one(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_router(
            ROUTER_GRPC_HOST="127.0.0.1",
            ROUTER_GRPC_PORT=str(port),
            ROUTER_METRICS_PORT="0",
            ROUTER_SQLITE_PATH=str(tmp_path / "router.sqlite3"),
        )
    assert done.returncode == 1
    assert f"router: could not bind 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
def router_with_private_redis(
    private_redis: RedisServer, tmp_path: Path
) -> Iterator[ServiceProcess]:
    env = {
        "ROUTER_REDIS_URL": private_redis.url,
        "ROUTER_SQLITE_PATH": str(tmp_path / "router.sqlite3"),
        "ROUTER_HEALTH_PROBE_INTERVAL_SECONDS": "0.1",
    }
    router = ServiceProcess(env, tmp_path / "router.log", "router")
    try:
        router.start()
        yield router
    finally:
        stop_all([router])


async def test_a_redis_outage_costs_no_answers_and_no_usage_events(
    router_with_private_redis: ServiceProcess, private_redis: RedisServer
) -> None:
    router = router_with_private_redis
    async with grpc.aio.insecure_channel(router.address) as channel:
        stub = pb_grpc.RouterServiceStub(channel)
        await stub.Complete(ask("mock-gpt", "before"))
        private_redis.stop()
        during = [await stub.Complete(ask("mock-gpt", f"during {i}")) for i in range(3)]
        await asyncio.to_thread(router.wait_for_health, NOT_SERVING)
        private_redis.start()
        await asyncio.to_thread(router.wait_for_health, SERVING)
        after = await stub.Complete(ask("mock-gpt", "after"))
    assert all(answer.choices[0].message.content for answer in [*during, after])
    client = aioredis.Redis.from_url(private_redis.url)
    try:
        # Redis came back empty (it keeps nothing on disk): the events buffered during the
        # outage were written once it answered, with the one after it (and the one before,
        # when it had not left yet as Redis went down).
        ids = await _stream_request_ids(client, "sb:router:usage", want=4)
    finally:
        await client.aclose()
    assert ids[-4:] == [a.served.request_id for a in [*during, after]]
    assert len(set(ids)) == len(ids)


async def _stream_request_ids(client: aioredis.Redis, stream: str, want: int) -> list[str]:
    events: list[UsageEvent] = []
    for _ in range(200):
        events = [
            UsageEvent.from_fields(fields or {}) for _, fields in await client.xrange(stream) or []
        ]
        if len(events) >= want:
            return [event.request_id for event in events]
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(events)} usage events arrived")
