"""The multi-replica proof: the end-to-end suite, unchanged, against two replicas of every
service and of the gateway, each started as the prod manifests start it (tests/deploy/replicas.py).

The end-to-end test is imported from tests/gateway/test_end_to_end.py and collected here too,
with this module's `suite` fixture: the same test, the same assertions, only the deployment
differs. The gateway's calls go round-robin over the replicas of each service and the clients'
connections alternate between the two gateways, so counters, budgets, tiers and the usage stream
only add up if no replica keeps state in its process that matters. After the test, every
replica must have served: its connections (gateways) or RPCs other than health checks (services).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.manifests import named, render
from tests.deploy.replicas import (
    OVERLAY,
    REPLICAS,
    Replicas,
    manifest_environment,
    running_replicas,
)
from tests.gateway.suite_processes import Backends, Suite
from tests.gateway.test_end_to_end import (  # collected here, against the replicas
    admin,  # noqa: F401 (a fixture this module's tests use, over its `suite`)
    test_the_suite_as_deployed_answers_limits_charges_and_confines_tenants,  # noqa: F401
)

pytestmark = pytest.mark.slow

HANDLED = "grpc_server_handled_total"
HEALTH = 'grpc_service="grpc.health.v1.Health"'
SERVED_BY_THE_END_TO_END_TEST = ("ratelimit", "cost", "router", "gateway")
"""The end-to-end test calls no prompt or flag RPC; the admin test below covers those."""

ADMIN_READS = {
    "ratelimit": "/v1/tiers",
    "cost": "/v1/cost/budgets",
    "router": "/v1/router/models",
    "prompts": "/v1/prompts",
    "flags": "/v1/flags/sets",
}
"""One read of each service's admin API through the gateway."""
ROUNDS = 6


@pytest.fixture
def replicated(
    redis_available: str, key_prefix: str, postgres_url: str, tmp_path: Path
) -> Iterator[tuple[Suite, Replicas]]:
    backends = Backends(redis_available, key_prefix, postgres_url)
    with running_replicas(backends, tmp_path) as running:
        yield running


@pytest.fixture
def suite(replicated: tuple[Suite, Replicas]) -> Iterator[Suite]:
    suite, replicas = replicated
    yield suite
    assert_every_replica_served(replicas, SERVED_BY_THE_END_TO_END_TEST)


async def test_admin_reads_of_every_service_spread_over_every_replica(
    replicated: tuple[Suite, Replicas],
) -> None:
    suite, replicas = replicated
    # No keep-alive: each request is a new connection, which the balancer gives the next gateway.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=suite.admin_url, headers=suite.auth("platform"), limits=limits, timeout=10
    ) as client:
        for _ in range(ROUNDS):
            for path in ADMIN_READS.values():
                answer = await client.get(path)
                assert answer.status_code == 200, f"{path}: {answer.text}"
    assert_every_replica_served(replicas, (*ADMIN_READS, "gateway"))


def assert_every_replica_served(replicas: Replicas, names: tuple[str, ...]) -> None:
    served = {name: [_served(replicas, name, i) for i in range(REPLICAS)] for name in names}
    assert all(all(counts) for counts in served.values()), f"calls per replica: {served}"


def _served(replicas: Replicas, name: str, index: int) -> int:
    process = replicas.processes[name][index]
    if name == "gateway":
        assert replicas.balancer is not None
        return replicas.balancer.connections[process.port]
    return int(process.metric(HANDLED) - process.metric(HANDLED, HEALTH))


def test_each_replica_gets_the_manifests_environment_rewritten_for_loopback(
    tmp_path: Path,
) -> None:
    objects = render(OVERLAY)
    urls = {"ROUTER_DATABASE_URL": "postgresql://db/router", "ROUTER_REDIS_URL": "redis://r"}
    router = manifest_environment(
        objects, named(objects, "Deployment", "router"), urls, {}, tmp_path
    )
    models = named(objects, "ConfigMap", "router-models")["data"]["models.yaml"]
    assert Path(router["ROUTER_MODELS_FILE"]).read_text() == models
    assert router["ROUTER_DATABASE_URL"] == "postgresql://db/router"
    assert "OPENAI_API_KEY" not in router  # an optional Secret key the test has no value for
    cost = manifest_environment(
        objects,
        named(objects, "Deployment", "cost"),
        {"COST_DATABASE_URL": "postgresql://db/cost", "COST_REDIS_URL": "redis://r"},
        {},
        tmp_path,
    )
    assert Path(cost["COST_PRICES_FILE"]).is_file()  # /app/config/... in the image
    ports = {name: [1000 + i, 2000 + i] for i, name in enumerate(ADMIN_READS)}
    secrets = {"GATEWAY_DATABASE_URL": "postgresql://db/gw", "GATEWAY_KEY_PEPPER": "p" * 32}
    gateway = manifest_environment(
        objects, named(objects, "Deployment", "gateway"), secrets, ports, tmp_path
    )
    assert gateway["GATEWAY_RATELIMIT_ADDR"] == "ipv4:127.0.0.1:1000,127.0.0.1:2000"
    assert gateway["GATEWAY_FLAGS_ADDR"] == "ipv4:127.0.0.1:1004,127.0.0.1:2004"
    with pytest.raises(AssertionError, match="required secret GATEWAY_"):
        manifest_environment(
            objects, named(objects, "Deployment", "gateway"), {}, ports, tmp_path / "bare"
        )
