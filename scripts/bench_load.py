"""The benchmarks' load generator: one process per target, grpc.aio clients, a few channels.

`run_load(spec, client)` runs `run_target` in a child process (spawn method) so the client's
CPU never competes with the harness, and runs two phases against one server:

- saturation (closed loop): `concurrency` workers each keep one unary call in flight, spread
  over `channels` channels (separate TCP connections). After `warmup` seconds, calls that
  complete within the next `duration` seconds count: decisions/s, p50, p99.
- fixed rate (open loop): sends are scheduled every 1/`rate` s whatever the server does, and
  latency runs from the *scheduled* send time, so a server (or client) that falls behind shows
  up as queueing instead of silently lowering the rate (no coordinated omission). Reported:
  achieved rate, p50, p99 and (`slow_ms`) the share over 20 ms, Envoy's default rate-limit
  timeout.

What a call is comes from a `Client`: an async context manager factory, given the spec, that
yields the `Call` (index -> outcome and the moment the measured answer arrived, so a stream can
be timed to its first chunk while the worker still waits for its end). It must be a module-level
function so the spawned process can import it. `ratelimit_client` is the rate-limit service's;
`scripts.bench_router_load` has the router's.

Rate-limit requests are serialized once (1,000 distinct subjects or descriptor values, round robin).
Responses are parsed: "decisions" count allowed and `denied` answers only; a CheckQuota answered
unchecked (Redis unreachable, failure mode open) counts as `unchecked`, errors by gRPC code.
Past a server's capacity grpc itself answers some calls CANCELLED (the bare no-op does too).
Both processes' CPU over the measured window (`/proc`) shows which side was the bottleneck
(and an upstream's, when the server calls one).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import grpc
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb

from scripts.bench_servers import BenchError, cpu_seconds

NOOP_METHOD = "/switchboard.bench.v1.Noop/Call"
CHECK_QUOTA_METHOD = "/switchboard.ratelimit.v1.RateLimitService/CheckQuota"
SHOULD_RATE_LIMIT_METHOD = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
SLOW_MS = 20.0
DISTINCT_KEYS = 1000
MAX_CALLS = 10_000_000  # a hard bound on any phase's call count, whatever the duration
MAX_IN_FLIGHT = 20_000  # open loop: beyond this, scheduled sends are dropped and counted
CALL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LoadSpec:
    target: str  # "noop", "noop_redis", "check_quota", "check_quota_memory", "should_rate_limit"
    address: str
    server_pid: int
    concurrency: int = 64
    duration: float = 10.0
    warmup: float = 2.0
    rate: float = 1000.0
    fixed_rate: bool = True
    channels: int = 4
    upstream_pid: int | None = None  # a process the server calls, whose CPU is also reported
    slow_ms: float | None = SLOW_MS  # report the share of calls slower than this


Descriptor, Entry = ratelimit_pb2.RateLimitDescriptor, ratelimit_pb2.RateLimitDescriptor.Entry
# Parses a response into "ok" (allowed), "denied", or "unchecked" (admitted without a check
# because the service could not reach Redis: its failure mode, not a decision).
Decode = Callable[[bytes], str]
_DECISIONS = ("ok", "denied", "unchecked")


def _quota_outcome(raw: bytes) -> str:
    reply = pb.CheckQuotaResponse.FromString(raw)
    if reply.backend_unavailable:
        return "unchecked"
    return "ok" if reply.allowed else "denied"


def _requests(target: str) -> tuple[str, list[bytes], Decode]:
    """The method path, the serialized requests and the response check for a target."""
    if target in ("check_quota", "check_quota_memory", "noop", "noop_redis"):
        requests = [
            pb.CheckQuotaRequest(
                subjects=[pb.QuotaSubject(name=f"keys/bench-{i}", tier="bench")],
                model="gpt-4o",
                estimated_tokens=100,
            ).SerializeToString()
            for i in range(DISTINCT_KEYS)
        ]
        if target in ("noop", "noop_redis"):  # the same payload, never parsed on either side
            return NOOP_METHOD, requests, lambda b: "ok"
        return CHECK_QUOTA_METHOD, requests, _quota_outcome
    if target == "should_rate_limit":
        requests = [
            rls_pb2.RateLimitRequest(
                domain="bench",
                descriptors=[Descriptor(entries=[Entry(key="api_key", value=f"k{i}")])],
            ).SerializeToString()
            for i in range(DISTINCT_KEYS)
        ]
        ok = rls_pb2.RateLimitResponse.OK

        def allowed(b: bytes) -> str:
            return "ok" if rls_pb2.RateLimitResponse.FromString(b).overall_code == ok else "denied"

        return SHOULD_RATE_LIMIT_METHOD, requests, allowed
    raise ValueError(f"unknown target {target!r}")


class _Recorder:
    """Latencies (ms) and outcomes of the calls that fall in the measured window."""

    def __init__(self, slow_ms: float | None) -> None:
        self.slow_ms = slow_ms
        self.latencies_ms: list[float] = []
        self.outcomes: Counter[str] = Counter()  # _DECISIONS, or a gRPC status code's name
        self.dropped = 0

    def record(self, start: float, end: float, outcome: str) -> None:
        self.latencies_ms.append((end - start) * 1000.0)
        self.outcomes[outcome] += 1

    def summary(self, seconds: float) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        decided = self.outcomes["ok"] + self.outcomes["denied"]
        summary = {
            "calls": len(lat),
            **{name: self.outcomes[name] for name in _DECISIONS},
            "errors": {k: v for k, v in self.outcomes.items() if k not in _DECISIONS},
            "dropped": self.dropped,
            "decisions_per_s": decided / seconds if seconds > 0 else 0.0,
            "p50_ms": _percentile(lat, 50),
            "p99_ms": _percentile(lat, 99),
            "max_ms": lat[-1] if lat else None,
        }
        if self.slow_ms is not None:
            slow = sum(1 for v in lat if v > self.slow_ms)
            summary[f"over_{self.slow_ms:g}ms_pct"] = 100.0 * slow / len(lat) if lat else None
        return summary


def _percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


class _CpuWindow:
    """CPU use of the server, its upstream (if any) and of this client over one measured
    window, in % of one core."""

    def __init__(self, server_pid: int, upstream_pid: int | None = None) -> None:
        self._pids = {"server_cpu_pct": server_pid}
        if upstream_pid is not None:
            self._pids["upstream_cpu_pct"] = upstream_pid
        self._start: tuple[float, dict[str, float | None], float] | None = None
        self.result: dict[str, float | None] = dict.fromkeys([*self._pids, "client_cpu_pct"])

    def begin(self) -> None:
        used = {key: cpu_seconds(pid) for key, pid in self._pids.items()}
        self._start = (time.perf_counter(), used, time.process_time())

    def end(self) -> None:
        if self._start is None:
            return
        wall0, before, client0 = self._start
        wall = max(1e-9, time.perf_counter() - wall0)
        for key, pid in self._pids.items():
            start, now = before[key], cpu_seconds(pid)
            if start is not None and now is not None:
                self.result[key] = 100.0 * (now - start) / wall
        self.result["client_cpu_pct"] = 100.0 * (time.process_time() - client0) / wall


# A call's outcome ("ok", or why not) and the perf_counter() time its measured answer arrived.
Outcome = tuple[str, float]
Call = Callable[[int], Awaitable[Outcome]]
Client = Callable[[LoadSpec], AbstractAsyncContextManager[Call]]


def answered(outcome: str) -> Outcome:
    """An outcome timed now: the call's answer has just arrived."""
    return outcome, time.perf_counter()


def _make_call(channels: list[Any], method: str, requests: list[bytes], decode: Decode) -> Call:
    stubs = [ch.unary_unary(method) for ch in channels]  # bytes in, bytes out

    async def call(i: int) -> Outcome:
        try:
            raw = await stubs[i % len(stubs)](requests[i % len(requests)], timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            return answered(str(exc.code().name))
        return answered(decode(raw))

    return call


async def _saturate(spec: LoadSpec, call: Call) -> dict[str, Any]:
    rec, cpu = _Recorder(spec.slow_ms), _CpuWindow(spec.server_pid, spec.upstream_pid)
    start = time.perf_counter()
    window_start, window_end = start + spec.warmup, start + spec.warmup + spec.duration
    counter = iter(range(MAX_CALLS))

    async def worker() -> None:
        for i in counter:  # shared iterator: every call gets a distinct index
            sent = time.perf_counter()
            if sent >= window_end:
                return
            outcome, done = await call(i)
            if window_start <= done <= window_end:
                rec.record(sent, done, outcome)

    async def window() -> None:
        await asyncio.sleep(spec.warmup)
        cpu.begin()
        await asyncio.sleep(spec.duration)
        cpu.end()

    await asyncio.gather(window(), *(worker() for _ in range(spec.concurrency)))
    return rec.summary(spec.duration) | cpu.result | {"concurrency": spec.concurrency}


async def _fixed_rate(spec: LoadSpec, call: Call) -> dict[str, Any]:
    rec, cpu = _Recorder(spec.slow_ms), _CpuWindow(spec.server_pid, spec.upstream_pid)
    interval = 1.0 / spec.rate
    warmup_calls = round(spec.warmup * spec.rate)
    total = min(MAX_CALLS, warmup_calls + round(spec.duration * spec.rate))
    in_flight: set[asyncio.Task[None]] = set()
    last_done = 0.0

    async def one(i: int, scheduled: float, measured: bool) -> None:
        nonlocal last_done
        outcome, done = await call(i)
        if measured:
            rec.record(scheduled, done, outcome)
            last_done = max(last_done, done)

    t0 = time.perf_counter() + 0.01
    window_start = t0 + warmup_calls * interval
    k = 0
    while k < total:
        now = time.perf_counter()
        if k == warmup_calls:
            cpu.begin()
        # Fire every send that is due (after a late wake-up, several at once), then sleep.
        while k < total and t0 + k * interval <= now:
            if len(in_flight) >= MAX_IN_FLIGHT:
                rec.dropped += k >= warmup_calls
            else:
                task = asyncio.create_task(one(k, t0 + k * interval, k >= warmup_calls))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            k += 1
            if k == warmup_calls:
                break
        if k < total:
            await asyncio.sleep(max(0.0, t0 + k * interval - time.perf_counter()))
    if in_flight:  # every call has a deadline, so this should drain; count any that did not
        _, pending = await asyncio.wait(in_flight, timeout=CALL_TIMEOUT_S + 1.0)
        if pending:
            rec.outcomes["UNFINISHED"] += len(pending)
    cpu.end()
    elapsed = max(spec.duration, last_done - window_start)
    summary = rec.summary(elapsed)
    summary["achieved_rps"] = summary.pop("decisions_per_s")
    return summary | cpu.result | {"target_rps": spec.rate}


@contextlib.asynccontextmanager
async def grpc_channels(spec: LoadSpec) -> AsyncIterator[list[grpc.aio.Channel]]:
    """`spec.channels` ready channels to `spec.address`, each its own TCP connection."""
    options = [("grpc.use_local_subchannel_pool", 1)]  # one connection per channel
    channels = [
        grpc.aio.insecure_channel(spec.address, options=options) for _ in range(spec.channels)
    ]
    try:
        for ch in channels:
            await asyncio.wait_for(ch.channel_ready(), timeout=10.0)
        yield channels
    finally:
        await asyncio.gather(*(ch.close() for ch in channels))


@contextlib.asynccontextmanager
async def ratelimit_client(spec: LoadSpec) -> AsyncIterator[Call]:
    """The rate-limit benchmark's targets (and their no-op baselines)."""
    method, requests, decode = _requests(spec.target)
    async with grpc_channels(spec) as channels:
        yield _make_call(channels, method, requests, decode)


async def _run(spec: LoadSpec, client: Client) -> dict[str, Any]:
    async with client(spec) as call:
        result: dict[str, Any] = {"target": spec.target, "saturation": await _saturate(spec, call)}
        if spec.fixed_rate:
            result["fixed_rate"] = await _fixed_rate(spec, call)
        return result


def run_target(spec: LoadSpec, client: Client = ratelimit_client) -> dict[str, Any]:
    """Both phases against one target; the entry point of the load process."""
    return asyncio.run(_run(spec, client))


def child_main(spec: LoadSpec, conn: Connection, client: Client = ratelimit_client) -> None:
    """Entry point of a spawned load process: sends back the result, or the error's text."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    try:
        conn.send(("ok", run_target(spec, client)))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_load(spec: LoadSpec, client: Client = ratelimit_client) -> dict[str, Any]:
    """Runs one target's load in a fresh (spawned) process and returns its result."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child_main, args=(spec, sender, client), name=f"load-{spec.target}")
    proc.start()
    sender.close()
    bound = 2 * (spec.warmup + spec.duration) + 60.0
    try:
        if not receiver.poll(bound):
            raise BenchError(f"load process for {spec.target} gave no result in {bound:.0f} s")
        status, payload = receiver.recv()
        proc.join(timeout=5.0)  # it exits right after sending
    except EOFError:
        raise BenchError(f"load process for {spec.target} died (exit {proc.exitcode})") from None
    finally:  # on any error or interruption, stop it now
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5.0)
    if status != "ok":
        raise BenchError(f"load for {spec.target} failed: {payload}")
    result: dict[str, Any] = payload
    return result
