"""The gateway benchmark's own targets: the upstream alone and Switchboard (the competitors are
in `bench_competitors`).

    direct       the fake upstream itself (`bench_fake_openai`): the baseline
    switchboard  the whole suite as deployed, each service its own process: the gateway, then
                 rate limit (a tier with a request and a token quota, tokens reserved and
                 reconciled), budget (a hard tenant budget checked and reserved on every call),
                 router (an OpenAI-compatible deployment pointing at the fake) and cost (every
                 call priced and written to the ledger). Embedded backends by default (memory
                 and SQLite, as `make run`); `--backends real` puts them on Redis and PostgreSQL.
                 The prompt and flag services run too: the gateway is ready only with them.

Each target's processes are started before its runs and stopped after, so only one target
holds memory and CPU at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from scripts.bench_servers import ROOT, BenchError, Server, free_port

MODEL = "bench-model"
UPSTREAM_MODEL = "bench-upstream-model"
PEPPER = "bench-pepper-" + "p" * 32

TIERS_YAML = """\
tiers:
  bench:
    requests_per_day: 1000000000
    requests_per_minute: 1000000000
    tokens_per_minute: 1000000000000
"""
PRICES_YAML = f"""\
prices:
  - provider: openai
    model: {UPSTREAM_MODEL}
    valid_from: "2025-01-01T00:00:00Z"
    currency: USD
    input_per_million: "0.15"
    output_per_million: "0.60"
"""
MODELS_YAML = """\
models:
  {model}:
    deployments:
      - name: bench-upstream
        provider: openai
        upstream_model: {upstream_model}
        base_url: {base_url}
        timeout_seconds: 30
        max_retries: 0
"""
BUDGET = {
    "scope": "tenants/bench",
    "period": "BUDGET_PERIOD_MONTHLY",
    "limit": {"currencyCode": "USD", "nanos": str(1000 * 10**9)},  # $1,000: never reached
    "hard": True,
}


@dataclass
class Target:
    name: str
    base_url: str  # what an OpenAI client takes as base_url (ends in /v1)
    headers: tuple[tuple[str, str], ...]
    version: str
    servers: list[Server] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


def http_ready(path: str, headers: dict[str, str] | None = None) -> Callable[[str], bool]:
    """A probe: GET http://address{path} answers 200."""

    def probe(address: str) -> bool:
        request = urllib.request.Request(f"http://{address}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return probe


def fake_upstream() -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "scripts.bench_fake_openai", "--port", str(port)]
    return Server("fake-upstream", argv, dict(os.environ), port, ready=lambda a: _answers(a))


def _answers(address: str) -> bool:
    body = {"model": "probe", "messages": [{"role": "user", "content": "ready?"}]}
    try:
        return httpx.post(f"http://{address}/v1/chat/completions", json=body).status_code == 200
    except httpx.HTTPError:
        return False


def direct(upstream: Server) -> Target:
    return Target("direct", f"http://{upstream.address}/v1", (), "fake upstream")


# --- Switchboard -------------------------------------------------------------------------


def _service_env(name: str, port: int, extra: dict[str, str]) -> dict[str, str]:
    prefix = name.upper()
    env = {k: v for k, v in os.environ.items() if k != "OTEL_SDK_DISABLED"}
    return env | {
        f"{prefix}_GRPC_HOST": "127.0.0.1",
        f"{prefix}_GRPC_PORT": str(port),
        f"{prefix}_METRICS_PORT": str(free_port()),
        f"{prefix}_LOG_LEVEL": "WARNING",
        **extra,
    }


def _service(name: str, extra: dict[str, str]) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", f"services.{name}"]
    return Server(name, argv, _service_env(name, port, extra), port)


def switchboard_backends(workdir: Path, real: bool, prefix: str) -> dict[str, dict[str, str]]:
    """Each service's backend variables: embedded files under `workdir`, or Redis + PostgreSQL."""
    if not real:
        return {
            "ratelimit": {},
            "cost": {"COST_SQLITE_PATH": str(workdir / "cost.sqlite3")},
            "router": {"ROUTER_SQLITE_PATH": str(workdir / "router.sqlite3")},
            "prompts": {"PROMPTS_SQLITE_PATH": str(workdir / "prompts.sqlite3")},
            "flags": {"FLAGS_SQLITE_PATH": str(workdir / "flags.sqlite3")},
            "gateway": {"GATEWAY_SQLITE_PATH": str(workdir / "gateway.sqlite3")},
        }
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    database = os.environ.get("BENCH_DATABASE_URL", "postgresql+asyncpg://root@127.0.0.1:5432/test")
    return {
        "ratelimit": {"RATELIMIT_REDIS_URL": redis_url, "RATELIMIT_KEY_PREFIX": f"{prefix}rl:"},
        "cost": {
            "COST_REDIS_URL": redis_url,
            "COST_KEY_PREFIX": f"{prefix}cost:",
            "COST_USAGE_STREAM": f"{prefix}router:usage",
            "COST_DATABASE_URL": database,
        },
        "router": {
            "ROUTER_REDIS_URL": redis_url,
            "ROUTER_KEY_PREFIX": f"{prefix}router:",
            "ROUTER_DATABASE_URL": database,
        },
        "prompts": {"PROMPTS_DATABASE_URL": database},
        "flags": {"FLAGS_DATABASE_URL": database},
        "gateway": {"GATEWAY_DATABASE_URL": database},
    }


def switchboard(workdir: Path, upstream: Server, *, real: bool, prefix: str) -> Target:
    """The suite: five services, a tenant, a key and a budget, then the gateway."""
    (workdir / "tiers.yaml").write_text(TIERS_YAML)
    (workdir / "prices.yaml").write_text(PRICES_YAML)
    base_url = f"http://{upstream.address}/v1"
    (workdir / "models.yaml").write_text(
        MODELS_YAML.format(model=MODEL, upstream_model=UPSTREAM_MODEL, base_url=base_url)
    )
    backends = switchboard_backends(workdir, real, prefix)
    target = Target("switchboard", "", (), _version())
    try:
        ratelimit = _service(
            "ratelimit",
            {"RATELIMIT_TIERS_FILE": str(workdir / "tiers.yaml"), **backends["ratelimit"]},
        )
        target.servers.append(ratelimit)
        cost = _service(
            "cost", {"COST_PRICES_FILE": str(workdir / "prices.yaml"), **backends["cost"]}
        )
        target.servers.append(cost)
        router_extra = {"ROUTER_MODELS_FILE": str(workdir / "models.yaml"), **backends["router"]}
        if not real:  # without Redis the router hands usage to the cost service directly
            router_extra["ROUTER_COST_ADDR"] = cost.address
        router = _service("router", router_extra)
        target.servers.append(router)
        prompts = _service("prompts", backends["prompts"])
        target.servers.append(prompts)
        flags = _service("flags", backends["flags"])
        target.servers.append(flags)
        gateway_env = {
            "GATEWAY_KEY_PEPPER": PEPPER,
            "GATEWAY_RATELIMIT_ADDR": ratelimit.address,
            "GATEWAY_COST_ADDR": cost.address,
            "GATEWAY_ROUTER_ADDR": router.address,
            "GATEWAY_PROMPTS_ADDR": prompts.address,
            "GATEWAY_FLAGS_ADDR": flags.address,
            "GATEWAY_LOG_LEVEL": "WARNING",
            **backends["gateway"],
        }
        key = _bench_key(gateway_env)
        for server in target.servers:
            server.wait_ready(60.0)
        gateway = _gateway(gateway_env)
        target.servers.append(gateway)
        gateway.wait_ready(60.0)
    except BaseException:
        target.stop()
        raise
    target.base_url = f"http://{gateway.address}/v1"
    target.headers = (("authorization", f"Bearer {key}"),)
    _create_budget(gateway.address, key)
    return target


def _version() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return f"main@{done.stdout.strip()}" if done.returncode == 0 else "working tree"


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.keys.cli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:  # stdout (which holds a key) is not shown
        raise BenchError(f"switchboard {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _bench_key(env: dict[str, str]) -> str:
    _cli(env, "tenants", "create", "bench")
    return _cli(
        env, "keys", "create", "--tenant", "bench", "--user", "load", "--tier", "bench",
        "--scopes", "inference,admin",
    )  # fmt: skip


def _gateway(env: dict[str, str]) -> Server:
    port = free_port()
    full = {k: v for k, v in os.environ.items() if k != "OTEL_SDK_DISABLED"}
    full |= env | {"GATEWAY_HTTP_HOST": "127.0.0.1", "GATEWAY_HTTP_PORT": str(port)}
    argv = [sys.executable, "-m", "gateway"]
    return Server("gateway", argv, full, port, ready=http_ready("/health/ready"))


def _create_budget(address: str, key: str) -> None:
    url = f"http://{address}/admin/v1/cost/budgets"
    answer = httpx.post(url, json=BUDGET, headers={"authorization": f"Bearer {key}"}, timeout=10)
    if answer.status_code != 200:
        raise BenchError(f"creating the bench budget failed: {answer.status_code} {answer.text}")


def peak_rss_mib(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a process and its descendants, in MiB."""
    total, found = 0, False
    for each in [pid, *_descendants(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
                found = True
    return total / 1024 if found else None


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def wait_briefly() -> None:
    """A pause between targets so the previous one's sockets and CPU are gone."""
    time.sleep(1.0)
