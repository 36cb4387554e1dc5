"""1,000 concurrent streaming clients through the deployed suite, against an upstream that
takes a second: every stream ends with its content and `[DONE]`, and the memory of every
process is reported (printed, and written to build/bench/many_streams.json).

The suite runs as deployed (tests.gateway.suite_processes); the upstream is the fake
OpenAI-compatible API in a process of its own, whose latency delays the whole answer: it sleeps
a second before the response starts, then sends every event at once (as a model's time to first
token dominates a short answer). The router's pool to the upstream is sized for the 1,000 calls
(`ROUTER_HTTP_MAX_CONNECTIONS`), so all of them are at the upstream at once rather than queued
in the router.

Memory is sampled from /proc/<pid>/status while the streams run: the highest VmRSS seen, and
VmHWM (the kernel's own peak) at the end; CPU seconds from /proc/<pid>/stat, which shows where
the wall time goes on a small machine. Nothing about time or memory is asserted: this is a
report, and a test never depends on a machine's speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.gateway.suite_processes import Backends, Suite, running_suite
from tests.redis_server import reap, track
from tests.service_process import ROOT

pytestmark = pytest.mark.slow

CLIENTS = 1000
POOL_SIZE = 50
"""Connections per test HTTP client (see `clients`); CLIENTS is a multiple of it."""
UPSTREAM_LATENCY_SECONDS = 1.0
MODEL = "slow-gpt"
WANT_OPEN_FILES = 4096
"""Each stream holds a socket in the test, the gateway and the router (and one at the upstream);
child processes inherit the limit raised here."""
CLIENT_TIMEOUT_SECONDS = 60.0
"""Only stops a broken run from hanging: the streams take a few seconds."""
UPSTREAM_START_SECONDS = 20.0
SAMPLE_EVERY_SECONDS = 0.05
REPORT = ROOT / "build" / "bench" / "many_streams.json"


@dataclass(frozen=True)
class StreamOutcome:
    status: int
    content: str
    done: bool
    """The stream's last event was `[DONE]`."""


@dataclass
class Usage:
    """One process's memory in kB (the highest VmRSS sampled, VmHWM at the last sample), and
    the CPU seconds it spent between the first sample and the last."""

    pid: int
    peak_rss_kb: int = 0
    hwm_kb: int = 0
    cpu_seconds: float = 0.0
    _cpu_at_start: float | None = None

    def sample(self) -> None:
        fields = _status_fields(self.pid)
        self.peak_rss_kb = max(self.peak_rss_kb, fields.get("VmRSS", 0))
        self.hwm_kb = max(self.hwm_kb, fields.get("VmHWM", 0))
        cpu = _cpu_seconds(self.pid)
        if self._cpu_at_start is None:
            self._cpu_at_start = cpu
        self.cpu_seconds = round(cpu - self._cpu_at_start, 2)

    def as_report(self) -> dict[str, float]:
        return {
            "peak_rss_kb": self.peak_rss_kb,
            "hwm_kb": self.hwm_kb,
            "cpu_seconds": self.cpu_seconds,
        }


def _status_fields(pid: int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status (empty once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            fields[name] = int(value.split()[0])
    return fields


def _cpu_seconds(pid: int) -> float:
    """User plus system time of the process so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_open_files_limit(want: int = WANT_OPEN_FILES) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        wanted = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@dataclass(frozen=True)
class Upstream:
    process: subprocess.Popen[bytes]
    base_url: str


@pytest.fixture(autouse=True)
def _services_without_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    """The processes of this test run as deployed, without coverage's subprocess tracing
    (which `make test` otherwise switches on: `patch = ["subprocess"]` hands every child
    COVERAGE_PROCESS_CONFIG). Traced, every
    process runs two to three times slower, and on a 2-core machine 1,000 streams once pushed
    the router past the point where grpc answered about 15% of StreamComplete calls CANCELLED
    before their first chunk, with nothing logged by the router (seen 2026-11-27). Since the
    router's upstream pools were split (services/router/providers/sharded_transport.py) it did
    not recur in six traced runs, with and without coverage's greenlet mode; the cause was not
    found. This test is about 1,000 streams through the suite as it runs in production, and the
    same code is covered by the other tests."""
    for name in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """`python -m tests.router.upstreams`, slow by a second; it prints its URL once it serves."""
    raise_open_files_limit()
    command = [sys.executable, "-m", "tests.router.upstreams", "--port", "0", "--kind", "openai"]
    command += ["--latency-seconds", str(UPSTREAM_LATENCY_SECONDS)]
    process = track(subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE))
    try:
        assert process.stdout is not None
        line = _first_line(process, UPSTREAM_START_SECONDS)
        yield Upstream(process, line.rsplit(" ", 1)[1])
    finally:
        reap(process, signal.SIGTERM, 10)
        if process.stdout is not None:
            process.stdout.close()


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The process's first line of output, waiting at most `timeout` s for it."""
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    deadline = time.monotonic() + timeout
    seen = b""
    while b"\n" not in seen:
        assert process.poll() is None, f"the fake upstream exited {process.returncode}"
        assert time.monotonic() < deadline, "the fake upstream never said it was serving"
        seen += process.stdout.read() or b""
        time.sleep(0.02)
    return seen.decode().splitlines()[0].strip()


def catalogue(base_url: str) -> str:
    deployment = {
        "name": "slow-upstream",
        "provider": "openai",
        "upstream_model": "slow-1",
        "base_url": base_url,
        "timeout_seconds": 60,
        "max_retries": 0,
    }
    return json.dumps({"models": {MODEL: {"deployments": [deployment]}}})  # JSON is YAML


@pytest.fixture
def suite(
    redis_available: str,
    key_prefix: str,
    postgres_url: str,
    tmp_path: Path,
    upstream: Upstream,
) -> Iterator[Suite]:
    models = tmp_path / "models.yaml"
    models.write_text(catalogue(upstream.base_url))
    router = {"ROUTER_MODELS_FILE": str(models), "ROUTER_HTTP_MAX_CONNECTIONS": str(CLIENTS)}
    backends = Backends(redis_available, key_prefix, postgres_url)
    with running_suite(backends, tmp_path, {"router": router}) as suite:
        yield suite


def process_ids(suite: Suite, upstream: Upstream) -> dict[str, int]:
    named = {"gateway": suite.gateway, **suite.services}
    pids = {name: service.process.pid for name, service in named.items() if service.process}
    return {**pids, "fake_upstream": upstream.process.pid, "test": os.getpid()}


@asynccontextmanager
async def sampling(pids: Mapping[str, int]) -> AsyncIterator[dict[str, Usage]]:
    """Samples every process while the block runs, and once more at its end."""
    usage = {name: Usage(pid) for name, pid in pids.items()}

    async def sample_forever() -> None:
        while True:
            for process in usage.values():
                process.sample()
            await asyncio.sleep(SAMPLE_EVERY_SECONDS)

    sampler = asyncio.create_task(sample_forever())
    try:
        yield usage
    finally:
        sampler.cancel()
        for process in usage.values():
            process.sample()


async def stream_one(client: httpx.AsyncClient, index: int) -> StreamOutcome:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"stream number {index}"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    content: list[str] = []
    last = ""
    async with client.stream("POST", "/chat/completions", json=body) as response:
        if response.status_code != 200:
            return StreamOutcome(response.status_code, (await response.aread()).decode(), False)
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            last = line.removeprefix("data: ")
            if last != "[DONE]":
                for choice in json.loads(last).get("choices", []):
                    content.append(choice["delta"].get("content") or "")
    return StreamOutcome(response.status_code, "".join(content), last == "[DONE]")


def report(usage: Mapping[str, Usage], wall_seconds: float, failures: int) -> None:
    """Print the table and write it to REPORT."""
    result = {
        "clients": CLIENTS,
        "upstream_latency_seconds": UPSTREAM_LATENCY_SECONDS,
        "upstream_latency_applies_to": "the first byte; every event follows at once",
        "wall_seconds": round(wall_seconds, 3),
        "failures": failures,
        "processes": {name: process.as_report() for name, process in usage.items()},
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{CLIENTS} concurrent streams in {wall_seconds:.2f} s (wrote {REPORT}):")
    for name, process in usage.items():
        rss, hwm, cpu = process.peak_rss_kb / 1024, process.hwm_kb / 1024, process.cpu_seconds
        print(f"  {name:<14} peak RSS {rss:7.1f} MiB  HWM {hwm:7.1f} MiB  CPU {cpu:6.2f} s")


@asynccontextmanager
async def clients(suite: Suite) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Enough HTTP clients for CLIENTS connections at once, POOL_SIZE each: httpcore's pool
    scans all its connections on every request and release, so one pool of 1,000 would spend
    more CPU in the test than the whole suite spends serving (measured: about 9 of 13 s)."""
    limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
    async with AsyncExitStack() as stack:
        made = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=suite.base_url,
                    headers=suite.auth("bulk"),
                    limits=limits,
                    timeout=CLIENT_TIMEOUT_SECONDS,
                )
            )
            for _ in range(CLIENTS // POOL_SIZE)
        ]
        yield made


async def test_a_thousand_concurrent_streams_all_finish_and_every_process_survives(
    suite: Suite, upstream: Upstream
) -> None:
    async with clients(suite) as pools, sampling(process_ids(suite, upstream)) as usage:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(stream_one(pools[index % len(pools)], index) for index in range(CLIENTS)),
            return_exceptions=True,
        )
        wall = time.monotonic() - started

    failed = [o for o in outcomes if not (isinstance(o, StreamOutcome) and o.status == 200)]
    report(usage, wall, len(failed))
    assert failed == [], f"{len(failed)} of {CLIENTS} streams failed, e.g. {failed[:3]!r}"
    finished = [o for o in outcomes if isinstance(o, StreamOutcome) and o.done and o.content]
    assert len(finished) == CLIENTS
    still_running = {name: s.process.poll() for name, s in suite.services.items() if s.process}
    still_running["gateway"] = suite.gateway.process.poll() if suite.gateway.process else -1
    assert set(still_running.values()) == {None}, still_running
    assert upstream.process.poll() is None
