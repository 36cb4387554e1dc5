"""`make run`: every service implemented so far and the gateway, on one machine, with embedded
defaults.

Each service runs as its own process (`python -m services.<name>`, `python -m gateway`),
exactly as its container runs it. Ctrl-C (or SIGTERM) stops them all cleanly: each gets
SIGTERM, drains and exits.

Before the gateway starts, the runner makes the tenant `platform` and a development key in the
gateway's database (SQLite under .run/), through `gateway.keys` directly, and prints the key:
`SWITCHBOARD_DEV_KEY` when set (it must look like a generated key, `sb-<12 hex>-<43+ url-safe
characters>`; set it to keep one key across runs), otherwise a new one per run. The key has the
scopes inference and admin, in the tier `SWITCHBOARD_DEV_TIER` (`pro` by default).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.keys.cli import database_url, hasher
from gateway.keys.model import NewKey, parse
from gateway.keys.store import KeyStore
from gateway.migrations import migrate
from svckit.errors import AlreadyExists, ServiceError
from svckit.sql import create_engine

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    grpc_port: int
    metrics_port: int
    env: dict[str, str] = field(default_factory=dict)


def _port(variable: str, default: int) -> int:
    """The service's own port variable wins, so the runner waits on and prints the real one."""
    return int(os.environ.get(variable, default))


SUITE = (
    Service(
        "ratelimit",
        "services.ratelimit",
        _port("RATELIMIT_GRPC_PORT", 50051),
        _port("RATELIMIT_METRICS_PORT", 9051),
        {"RATELIMIT_ENVOY_CONFIG_DIR": str(ROOT / "config" / "ratelimit" / "envoy")},
    ),
    Service(
        "cost",
        "services.cost",
        _port("COST_GRPC_PORT", 50052),
        _port("COST_METRICS_PORT", 9052),
        {
            "COST_SQLITE_PATH": str(ROOT / ".run" / "cost.sqlite3"),
            "COST_PRICES_FILE": str(ROOT / "config" / "cost" / "prices.yaml"),
        },
    ),
    Service(
        "router",
        "services.router",
        _port("ROUTER_GRPC_PORT", 50053),
        _port("ROUTER_METRICS_PORT", 9053),
        {
            "ROUTER_SQLITE_PATH": str(ROOT / ".run" / "router.sqlite3"),
            # Without Redis the router hands its usage events to the cost service directly.
            "ROUTER_COST_ADDR": f"127.0.0.1:{_port('COST_GRPC_PORT', 50052)}",
        },
    ),
    Service(
        "prompts",
        "services.prompts",
        _port("PROMPTS_GRPC_PORT", 50055),
        _port("PROMPTS_METRICS_PORT", 9055),
        {"PROMPTS_SQLITE_PATH": str(ROOT / ".run" / "prompts.sqlite3")},
    ),
    Service(
        "flags",
        "services.flags",
        _port("FLAGS_GRPC_PORT", 50054),
        _port("FLAGS_METRICS_PORT", 9054),
        {"FLAGS_SQLITE_PATH": str(ROOT / ".run" / "flags.sqlite3")},
    ),
)


GATEWAY_PORT = _port("GATEWAY_HTTP_PORT", 8080)
GATEWAY_ENV = {
    "GATEWAY_HTTP_HOST": "127.0.0.1",
    "GATEWAY_HTTP_PORT": str(GATEWAY_PORT),
    "GATEWAY_SQLITE_PATH": str(ROOT / ".run" / "gateway.sqlite3"),
    **{f"GATEWAY_{s.name.upper()}_ADDR": f"127.0.0.1:{s.grpc_port}" for s in SUITE},
}
DEV_TENANT = "platform"


def gateway_environ() -> dict[str, str]:
    """The gateway's environment: the suite's addresses, the caller's settings winning."""
    return {**GATEWAY_ENV, **os.environ}


async def _dev_key(environ: Mapping[str, str]) -> str:
    """The development key, in the gateway's database (made or found there)."""
    url = database_url(environ)
    store = KeyStore(create_engine(url), hasher(environ, url))
    given = environ.get("SWITCHBOARD_DEV_KEY") or None
    spec = NewKey(
        tenant=DEV_TENANT,
        user="developer",
        tier=environ.get("SWITCHBOARD_DEV_TIER") or "pro",
        scopes=frozenset({"inference", "admin"}),
        name="make run development key",
    )
    try:
        await migrate(url)
        await store.create_tenant(DEV_TENANT, "Platform team", exist_ok=True)
        try:
            return (await store.create_key(spec, plaintext=given)).plaintext
        except AlreadyExists:
            assert given is not None
            await store.authenticate(given)  # the same key from an earlier run, still usable
            return given
    except ServiceError as error:  # its message never holds the key
        raise SystemExit(f"the development key cannot be used: {error.message}") from None
    finally:
        await store.engine.dispose()


def dev_key(environ: Mapping[str, str]) -> str:
    given = environ.get("SWITCHBOARD_DEV_KEY")
    if given and parse(given) is None:
        raise SystemExit(
            "SWITCHBOARD_DEV_KEY must look like sb-<12 hex>-<at least 43 url-safe characters>"
        )
    return asyncio.run(_dev_key(environ))


def _start(service: Service) -> subprocess.Popen[bytes]:
    env = {**service.env, **os.environ}  # the caller's own settings win over the suite's
    # A session of its own: a terminal Ctrl-C reaches only this runner, which then sends each
    # service exactly one SIGTERM (a second signal would make a service skip its drain).
    return subprocess.Popen(
        [sys.executable, "-m", service.module], env=env, cwd=ROOT, start_new_session=True
    )


def _start_gateway() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway"],
        env=gateway_environ(),
        cwd=ROOT,
        start_new_session=True,
    )


def _banner(key: str) -> str:
    gateway = f"http://127.0.0.1:{GATEWAY_PORT}"
    lines = [
        "",
        "Switchboard is running (embedded defaults: in-memory state and SQLite, no Redis needed):",
        f"  gateway    {gateway}   (OpenAI-compatible: base URL {gateway}/v1)",
        f"  API docs   {gateway}/api/docs   (ReDoc: {gateway}/api/redoc)",
        f"  dev key    {key}",
        "             (tenant platform, scopes inference and admin; shown only here)",
    ]
    for s in SUITE:
        metrics = f"http://127.0.0.1:{s.metrics_port}/metrics"
        lines.append(f"  {s.name:<10} gRPC 127.0.0.1:{s.grpc_port}   metrics {metrics}")
    lines += [
        "",
        "Try it:",
        f"  curl {gateway}/v1/chat/completions -H 'Authorization: Bearer {key}' \\",
        "    -H 'content-type: application/json' \\",
        """    -d '{"model": "mock-gpt", "messages": [{"role": "user", "content": "Hello?"}]}'""",
        f"  curl {gateway}/admin/v1/cost/spend -H 'Authorization: Bearer {key}'",
        "",
        "The services directly (server reflection is on, so grpcurl works too):",
        "  .venv/bin/python -m services.ratelimit.client tiers",
        "  .venv/bin/python -m services.ratelimit.client check keys/demo free --tokens 500",
        "  .venv/bin/python -m services.ratelimit.client envoy llm api_key=demo",
        "  .venv/bin/python -m services.router.client models",
        '  .venv/bin/python -m services.router.client complete mock-gpt "Hello?" --stream',
        "  .venv/bin/python -m services.cost.client spend --group-by model",
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _wait_until_serving(service: Service, child: subprocess.Popen[bytes]) -> bool:
    """Poll gRPC health until SERVING; False if the process died or never got there."""
    request = health_pb2.HealthCheckRequest(service="")
    deadline = time.monotonic() + 30
    with grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline and child.poll() is None:
            try:
                if stub.Check(request, timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                    return True
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    return False


def _wait_until_answering(child: subprocess.Popen[bytes]) -> bool:
    """Poll the gateway's readiness until it answers 200; False if it died or never did."""
    url = f"http://127.0.0.1:{GATEWAY_PORT}/health/ready"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


def main() -> int:
    children = [_start(s) for s in SUITE]
    try:
        key = dev_key(gateway_environ())
    except BaseException:
        for child in children:
            child.send_signal(signal.SIGTERM)
            child.wait()
        raise
    gateway = _start_gateway()
    names = [*(s.name for s in SUITE), "gateway"]
    children.append(gateway)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    services = zip(SUITE, children[: len(SUITE)], strict=True)
    started = all(_wait_until_serving(s, c) for s, c in services)
    started = started and _wait_until_answering(gateway)
    if started:
        print(_banner(key), flush=True)
    else:
        print("a service did not start; see its log above", file=sys.stderr)
    while started and not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    codes = [child.wait() for child in children]
    failed = [name for name, code in zip(names, codes, strict=True) if code != 0]
    if not started or (failed and not stopping):
        print(f"stopped: {', '.join(failed) or 'start-up failed'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
