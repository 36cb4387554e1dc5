"""The benchmarks' servers and Redis housekeeping, for `bench_ratelimit` and `bench_router`.

Each server is a subprocess in its own session (so Ctrl-C reaches the harness only, which then
stops the server with SIGTERM, waiting up to 15 s before SIGKILL), its output in
`build/bench/<name>.log`, ready once its probe passes: grpc.health.v1 `Check("")` answers
SERVING, or for the fake upstream a chat completion answers 200. The rate-limit service gets a
temporary tiers file and Envoy descriptor file with limits no run can reach, and every Redis key
it writes is under a random prefix that `delete_keys` removes afterwards. The router runs
embedded (no Redis, SQLite in the temporary directory) with a catalogue of one OpenAI-compatible
deployment pointing at the fake upstream, without retries.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import grpc
import httpx
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


ROUTER_MODEL = "bench-model"
ROUTER_MODELS_YAML = """\
models:
  bench-model:
    deployments:
      - name: bench-upstream
        provider: openai
        upstream_model: bench-upstream-model
        base_url: {base_url}
        timeout_seconds: 10
        max_retries: 0
"""

# Whether the server at an address ("127.0.0.1:port") is ready.
ReadyProbe = Callable[[str], bool]


class BenchError(Exception):
    """The benchmark cannot go on; the text says why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server subprocess (see the module's docstring)."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        port: int,
        ready: ReadyProbe | None = None,
    ) -> None:
        self.name, self.address = name, f"127.0.0.1:{port}"
        self._ready = ready or grpc_serving
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
        """Polls the readiness probe until it passes, the process exits, or `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited with {self.proc.returncode}{self._tail()}")
            if self._ready(self.address):
                return
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s{self._tail()}")

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


def grpc_serving(address: str) -> bool:
    """grpc.health.v1 Check("") answers SERVING."""
    with grpc.insecure_channel(address) as channel, contextlib.suppress(grpc.RpcError):
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    return False


def chat_answers(address: str) -> bool:
    """The OpenAI-compatible API at http://address/v1 answers a chat completion."""
    body = {"model": "probe", "messages": [{"role": "user", "content": "ready?"}]}
    with contextlib.suppress(httpx.HTTPError):
        url = f"http://{address}/v1/chat/completions"
        return httpx.post(url, json=body, timeout=1.0).status_code == 200
    return False


def settle(*pids: int, idle_pct: float = 10.0, budget_s: float = 15.0) -> None:
    """Waits (at most `budget_s`) until each server's CPU use falls below `idle_pct` of a core
    over 0.5 s, so a backlog left by the previous target is not charged to the next."""
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        before = [cpu_seconds(pid) for pid in pids]
        time.sleep(0.5)
        after = [cpu_seconds(pid) for pid in pids]
        if all(
            b is None or a is None or (a - b) / 0.5 * 100.0 < idle_pct
            for b, a in zip(before, after, strict=True)
        ):
            return


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), or None off Linux."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def ratelimit_server(workdir: Path, redis_url: str, prefix: str, name: str = "ratelimit") -> Server:
    """The rate-limit service as its container runs it; an empty `redis_url` selects its
    embedded in-memory store."""
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
    return Server(name, [sys.executable, "-m", "services.ratelimit"], env, port)


def upstream_server(latency_seconds: float) -> Server:
    """The fake OpenAI-compatible upstream (`bench_upstream`), answering after a fixed delay."""
    port = free_port()
    argv = [sys.executable, "-m", "scripts.bench_upstream", "--port", str(port)]
    argv += ["--latency-seconds", str(latency_seconds)]
    return Server("upstream", argv, dict(os.environ), port, ready=chat_answers)


def router_server(workdir: Path, upstream: Server) -> Server:
    """The router as its container runs it, embedded: no Redis, jobs in SQLite under `workdir`."""
    models = workdir / "models.yaml"
    base_url = f"http://{upstream.address}/v1"
    models.write_text(ROUTER_MODELS_YAML.format(base_url=base_url), encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "OTEL_SDK_DISABLED"}
    env |= {
        "ROUTER_GRPC_HOST": "127.0.0.1",
        "ROUTER_GRPC_PORT": str(port),
        "ROUTER_METRICS_PORT": str(free_port()),
        "ROUTER_MODELS_FILE": str(models),
        "ROUTER_REDIS_URL": "",
        "ROUTER_DATABASE_URL": "",
        "ROUTER_SQLITE_PATH": str(workdir / "router.sqlite3"),
    }
    return Server("router", [sys.executable, "-m", "services.router"], env, port)


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
