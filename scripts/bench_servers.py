"""The benchmark's servers and Redis housekeeping, for `bench_ratelimit`.

Each server is a subprocess in its own session (so Ctrl-C reaches the harness only, which then
stops the server with SIGTERM, waiting up to 15 s before SIGKILL), its output in
`build/bench/<name>.log`, ready once grpc.health.v1 `Check("")` answers SERVING. The rate-limit
service gets a temporary tiers file and Envoy descriptor file with limits no run can reach, and
every Redis key it writes is under a random prefix that `delete_keys` removes afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "build" / "bench"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

TIERS_YAML = """\
tiers:
  bench:
    requests_per_day: 1000000000
    requests_per_minute: 1000000000
    tokens_per_minute: 1000000000000
"""
ENVOY_YAML = """\
domain: bench
descriptors:
  - key: api_key
    rate_limit:
      unit: minute
      requests_per_unit: 1000000000
"""


class BenchError(Exception):
    """The benchmark cannot go on; the text says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server subprocess (see the module's docstring)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name, self.address = name, f"127.0.0.1:{port}"
        self.log_path = OUT_DIR / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float) -> None:
        """Polls grpc.health.v1 Check("") until SERVING, the process exits, or `timeout`."""
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(
                        f"{self.name} exited with {self.proc.returncode}{self._tail()}"
                    )
                with contextlib.suppress(grpc.RpcError):
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                time.sleep(0.2)
        raise BenchError(f"{self.name} not SERVING after {timeout:.0f} s{self._tail()}")

    def stop(self, grace: float = 15.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5.0)

    def _tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        return f"; last lines of {self.log_path}:\n" + "\n".join(text)


@contextlib.contextmanager
def running(server: Server, ready_timeout: float) -> Iterator[Server]:
    try:
        server.wait_ready(ready_timeout)
        yield server
    finally:
        server.stop()


def noop_server(redis_url: str | None = None) -> Server:
    """The no-op baseline; with `redis_url`, the one-Redis-round-trip ceiling."""
    port = free_port()
    argv = [sys.executable, "-m", "scripts.bench_noop", "--port", str(port)]
    if redis_url:
        argv += ["--redis-url", redis_url]
    return Server("noop+redis" if redis_url else "noop", argv, dict(os.environ), port)


def ratelimit_server(workdir: Path, redis_url: str, prefix: str) -> Server:
    (workdir / "tiers.yaml").write_text(TIERS_YAML, encoding="utf-8")
    (workdir / "envoy").mkdir(exist_ok=True)
    (workdir / "envoy" / "bench.yaml").write_text(ENVOY_YAML, encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "OTEL_SDK_DISABLED"}
    env |= {
        "RATELIMIT_GRPC_HOST": "127.0.0.1",
        "RATELIMIT_GRPC_PORT": str(port),
        "RATELIMIT_METRICS_PORT": str(free_port()),
        "RATELIMIT_REDIS_URL": redis_url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATELIMIT_TIERS_FILE": str(workdir / "tiers.yaml"),
        "RATELIMIT_ENVOY_CONFIG_DIR": str(workdir / "envoy"),
    }
    return Server("ratelimit", [sys.executable, "-m", "services.ratelimit"], env, port)


def check_redis(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme != "unix" and parsed.hostname not in LOOPBACK:
        raise BenchError(f"--redis-url must point at a loopback address, not {parsed.hostname}")
    try:
        redis.Redis.from_url(url, socket_timeout=2.0).ping()
    except redis.RedisError as exc:
        raise BenchError(f"Redis at {url} does not answer: {exc}") from exc


def delete_keys(url: str, prefix: str, limit: int = 5_000_000, budget_s: float = 120.0) -> int:
    """Deletes every key under `prefix` (SCAN + UNLINK in batches), bounded in count and time."""
    client = redis.Redis.from_url(url, socket_timeout=5.0)
    deleted, batch, deadline = 0, [], time.monotonic() + budget_s
    for key in client.scan_iter(match=prefix + "*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            deleted += int(client.unlink(*batch))
            batch = []
        if deleted >= limit or time.monotonic() > deadline:
            print(f"warning: stopped deleting keys under {prefix!r} early", file=sys.stderr)
            break
    if batch:
        deleted += int(client.unlink(*batch))
    return deleted
