"""The alert rules pass promtool, and every metric the rules and dashboards use is one the
services really export: the suite runs in process wired as in production (Redis, PostgreSQL),
a few completions go through the router (their usage through the Redis stream into the cost
service's ledger), then each service's /metrics is scraped over HTTP."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
import yaml
from prometheus_client import CollectorRegistry
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from gateway.app import build as build_gateway
from gateway.settings import GatewaySettings
from services.cost.app import build as build_cost
from services.cost.settings import CostSettings
from services.flags.app import build as build_flags
from services.flags.settings import FlagsSettings
from services.prompts.app import build as build_prompts
from services.prompts.settings import PromptsSettings
from services.ratelimit.app import build as build_ratelimit
from services.ratelimit.settings import load as load_ratelimit
from services.router.app import build as build_router
from services.router.settings import RouterSettings
from svckit.metrics import serve_metrics
from svckit.server import ServiceApp
from svckit.testing import serving
from tests.backends import missing_backend
from tests.deploy.manifests import DEPLOY, ROOT
from tests.deploy.promql import metric_names
from tests.router.upstreams.serving import serve_upstream

OBSERVABILITY = DEPLOY / "observability"
RULES = OBSERVABILITY / "prometheus" / "switchboard-alerts.yml"
DASHBOARDS = sorted((OBSERVABILITY / "grafana" / "dashboards").glob("*.json"))
PROMETHEUS_OWN = frozenset({"up"})
"""Series Prometheus makes itself for every target."""
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def _rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    return [
        target["expr"]
        for path in DASHBOARDS
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        missing_backend("promtool is not installed (Debian's prometheus package ships it)")
        return
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_cover_every_concern_the_issue_names() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    assert {"SwitchboardHighErrorRate", "RouterCircuitOpen", "RedisUnreachable"} <= alerts
    assert {"PostgresUnreachable", "UsageQueueLag"} <= alerts


def test_there_is_a_dashboard_per_concern_with_unique_ids() -> None:
    names = {path.stem for path in DASHBOARDS}
    assert names == {"traffic-latency", "cost", "rate-limits", "cache", "breakers", "jobs"}
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            assert panel["targets"], path.name
            assert panel["datasource"]["uid"] == "prometheus", path.name


def test_the_name_extraction_finds_metrics_and_skips_functions_labels_and_keywords() -> None:
    expression = (
        'sum by (service, le) (rate(grpc_server_handling_seconds_bucket{grpc_code="OK"}[5m]))'
        " / on (service) group_left sum(up) or vector(0) > bool 1"
    )
    assert metric_names(expression) == {"grpc_server_handling_seconds_bucket", "up"}


@pytest.fixture
async def scraped(
    tmp_path: Path, redis_client: aioredis.Redis, key_prefix: str, postgres_url: str, redis_url: str
) -> AsyncIterator[set[str]]:
    """Every metric name the services and the gateway export after a short production-like
    run."""
    registries = {
        name: CollectorRegistry() for name in ("ratelimit", "cost", "router", "flags", "prompts")
    }
    stream = f"{key_prefix}router:usage"
    apps: list[ServiceApp] = [
        build_ratelimit(
            load_ratelimit(
                {"RATELIMIT_REDIS_URL": redis_url, "RATELIMIT_KEY_PREFIX": f"{key_prefix}rl:"}
            ),
            registry=registries["ratelimit"],
        ).app,
        build_cost(
            CostSettings(
                grpc_host="127.0.0.1",
                database_url=postgres_url,
                redis_url=redis_url,
                key_prefix=f"{key_prefix}cost:",
                usage_stream=stream,
                prices_file=str(ROOT / "config" / "cost" / "prices.yaml"),
            ),
            registry=registries["cost"],
        ).app,
        build_flags(
            FlagsSettings(grpc_host="127.0.0.1", database_url=postgres_url),
            registry=registries["flags"],
        ).app,
        build_prompts(
            PromptsSettings(grpc_host="127.0.0.1", database_url=postgres_url),
            registry=registries["prompts"],
        ).app,
        build_router(
            RouterSettings(
                grpc_host="127.0.0.1",
                redis_url=redis_url,
                key_prefix=f"{key_prefix}router:",
                database_url=postgres_url,
            ),
            environ={},
            registry=registries["router"],
        ).app,
    ]
    async with AsyncExitStack() as stack:
        served = [await stack.enter_async_context(serving(app)) for app in apps]
        channels = [channel for _, channel in served]
        router = pb_grpc.RouterServiceStub(channels[-1])
        for n in range(3):
            question = pb.ChatMessage(role="user", content=f"question {n}")
            await router.Complete(pb.CompleteRequest(model="mock-gpt", messages=[question]))
        endpoints = []
        for registry in registries.values():
            server, port = serve_metrics(registry, 0, host="127.0.0.1")
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            endpoints.append(f"http://127.0.0.1:{port}/metrics")
        at = {
            name: f"127.0.0.1:{server.port}"
            for name, (server, _) in zip(registries, served, strict=True)
        }
        settings = GatewaySettings(
            ratelimit_addr=at["ratelimit"],
            cost_addr=at["cost"],
            router_addr=at["router"],
            flags_addr=at["flags"],
            prompts_addr=at["prompts"],
        )
        gateway = build_gateway(settings)
        origin = (await stack.enter_async_context(serve_upstream(gateway.app))).removesuffix("/v1")
        async with httpx.AsyncClient() as client:
            # The usage reaches the ledger through the Redis stream, in another task: wait for it.
            await asyncio.wait_for(_ledger_recorded(client, endpoints[1]), 20)
            assert (await client.get(f"{origin}/health/ready")).status_code == 200
            endpoints.append(f"{origin}/metrics/")
            texts = [(await client.get(url)).text for url in endpoints]
        yield _names(texts)


async def _ledger_recorded(client: httpx.AsyncClient, url: str) -> None:
    # Another server's state: polling it is the only way to observe it.
    while not _stream_entries((await client.get(url)).text):  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _stream_entries(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("cost_stream_entries_total "):
            return float(line.split()[1])
    return 0.0


def _names(texts: list[str]) -> set[str]:
    names = set()
    for text in texts:
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                names.add(name)
                if kind == "histogram":
                    names.update(name + suffix for suffix in HISTOGRAM_SERIES)
            elif line and not line.startswith("#"):
                names.add(line.split("{")[0].split()[0])
    return names


async def test_every_metric_the_rules_and_dashboards_use_is_exported(scraped: set[str]) -> None:
    used = set().union(*(metric_names(e) for e in _rule_expressions() + _dashboard_expressions()))
    assert {"router_circuit_state", "cost_stream_entries_total"} <= used
    assert used - scraped - PROMETHEUS_OWN == set()
    assert "router_requests_total" in scraped
    assert "grpc_server_handled_total" in scraped
