"""`make run`: every service implemented so far, on one machine, with embedded defaults.

Each service runs as its own process (`python -m services.<name>`), exactly as its container
runs it. Ctrl-C (or SIGTERM) stops them all cleanly: each gets SIGTERM, drains and exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

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
)


def _start(service: Service) -> subprocess.Popen[bytes]:
    env = {**service.env, **os.environ}  # the caller's own settings win over the suite's
    # A session of its own: a terminal Ctrl-C reaches only this runner, which then sends each
    # service exactly one SIGTERM (a second signal would make a service skip its drain).
    return subprocess.Popen(
        [sys.executable, "-m", service.module], env=env, cwd=ROOT, start_new_session=True
    )


def _banner() -> str:
    lines = [
        "",
        "Switchboard is running (embedded defaults: in-memory state and SQLite, no Redis needed):",
    ]
    for s in SUITE:
        metrics = f"http://127.0.0.1:{s.metrics_port}/metrics"
        lines.append(f"  {s.name:<10} gRPC 127.0.0.1:{s.grpc_port}   metrics {metrics}")
    lines += [
        "",
        "Try it (server reflection is on, so grpcurl works too):",
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


def main() -> int:
    children = [_start(s) for s in SUITE]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    started = all(_wait_until_serving(s, c) for s, c in zip(SUITE, children, strict=True))
    if started:
        print(_banner(), flush=True)
    else:
        print("a service did not start; see its log above", file=sys.stderr)
    while started and not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    codes = [child.wait() for child in children]
    failed = [s.name for s, code in zip(SUITE, codes, strict=True) if code != 0]
    if not started or (failed and not stopping):
        print(f"stopped: {', '.join(failed) or 'start-up failed'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
