"""`make bench-ratelimit`: throughput and latency of the rate-limit service against a no-op.

Five targets, one after the other (`--rounds N` repeats the sequence, see `bench_report`),
each loaded by its own load process (`bench_load`) while the servers run in theirs:

    noop               a bare grpc.aio server (`bench_noop`): no interceptors, no work
    noop_redis         the same, making one Redis round trip (PING) per call: the ceiling of
                       any design that asks Redis once per decision
    CheckQuota, in memory
                       the service on its embedded in-memory store (a second process): what
                       the service itself costs, kit and limiter, with no Redis round trip
    CheckQuota         switchboard.ratelimit.v1, `python -m services.ratelimit` on real Redis
    ShouldRateLimit    Envoy's envoy.service.ratelimit.v3, the same server process

The rate-limit service runs as its container runs it (its own process, the default
interceptors and tracing on, `OTEL_SDK_DISABLED` removed from its environment) with a temporary
tiers file and Envoy descriptor file whose limits are so large that nothing is refused, and a
random Redis key prefix whose keys are deleted afterwards (SCAN by prefix, never FLUSHDB).

Each target gets a saturation run (`--concurrency` calls in flight) and an open-loop run at
`--rate` requests/s; see `bench_load` for what is measured. Throughput is also given as a ratio
to the no-op measured in the same run, which is what to compare across machines and commits.

On a 2-core machine the load process and the server share the cores (one load process per
target keeps the client to about one core), so absolute numbers are low and anything else the
machine runs moves them: compare ratios, use `--rounds`, and read the CPU columns (% of one
core, server and client), which show which side ran out. Only loopback addresses are used.
Results go to stdout as Markdown and to `build/bench/ratelimit.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

import grpc
import redis

from scripts.bench_load import LoadSpec, run_load
from scripts.bench_report import aggregate, render
from scripts.bench_servers import (
    OUT_DIR,
    BenchError,
    Server,
    check_redis,
    delete_keys,
    noop_server,
    ratelimit_server,
    running,
    settle,
)

LABELS = {
    "noop": "no-op (grpc.aio)",
    "noop_redis": "no-op + one Redis PING",
    "check_quota_memory": "CheckQuota, in memory",
    "check_quota": "CheckQuota",
    "should_rate_limit": "ShouldRateLimit",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    p.add_argument("--concurrency", type=int, default=64, help="calls in flight (saturation)")
    p.add_argument("--rate", type=float, default=1000.0, help="requests/s of the open-loop run")
    p.add_argument("--channels", type=int, default=4, help="gRPC channels per load process")
    p.add_argument("--rounds", type=int, default=1, help="interleaved repetitions (medians)")
    p.add_argument("--skip-fixed-rate", action="store_true", help="saturation runs only")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to reach SERVING")
    p.add_argument("--output", type=Path, default=OUT_DIR / "ratelimit.json")
    p.add_argument(
        "--against-noop",
        action="store_true",
        help="harness development: point the rate-limit targets at the no-op server",
    )
    args = p.parse_args(argv)
    for name in ("duration", "concurrency", "rate", "channels", "rounds"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be positive")
    if args.warmup < 0 or args.duration > 3600 or args.concurrency > 10_000:
        p.error("--warmup must be >= 0, --duration <= 3600, --concurrency <= 10000")
    return args


def bench(
    args: argparse.Namespace, workdir: Path, prefix: str, results: list[dict[str, Any]]
) -> None:
    """Runs every target `--rounds` times, interleaved, appending each result as it comes in.
    Every server runs throughout (an idle one costs next to nothing)."""

    def load(target: str, server: Server, round_: int) -> None:
        spec = LoadSpec(
            target=target,
            address=server.address,
            server_pid=server.proc.pid,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            rate=args.rate,
            fixed_rate=not args.skip_fixed_rate,
            channels=args.channels,
        )
        settle(server.proc.pid)
        where = f"{server.name} at {server.address}, round {round_ + 1}/{args.rounds}"
        print(f"loading {LABELS[target]} ({where}) ...", flush=True)
        extra = {"label": LABELS[target], "server": server.name, "round": round_}
        results.append(run_load(spec) | extra)

    with contextlib.ExitStack() as stack:
        noop = stack.enter_context(running(noop_server(), args.ready_timeout))
        service = memory = noop
        ping = None
        if not args.against_noop:
            ping = stack.enter_context(running(noop_server(args.redis_url), args.ready_timeout))
            rl = ratelimit_server(workdir, "", prefix, name="ratelimit-memory")
            memory = stack.enter_context(running(rl, args.ready_timeout))
            rl = ratelimit_server(workdir, args.redis_url, prefix)
            service = stack.enter_context(running(rl, args.ready_timeout))
        for round_ in range(args.rounds):
            load("noop", noop, round_)
            if ping is not None:
                load("noop_redis", ping, round_)
            load("check_quota_memory", memory, round_)
            load("check_quota", service, round_)
            load("should_rate_limit", service, round_)


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    prefix = f"bench:{secrets.token_hex(6)}:"
    results: list[dict[str, Any]] = []
    status = 0
    try:
        if not args.against_noop:
            check_redis(args.redis_url)
        with tempfile.TemporaryDirectory(prefix="bench-ratelimit-") as tmp:
            bench(args, Path(tmp), prefix, results)
    except BenchError as exc:
        print(f"bench-ratelimit: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("bench-ratelimit: interrupted", file=sys.stderr)
        status = 130
    finally:
        if not args.against_noop:
            with contextlib.suppress(redis.RedisError, BenchError):
                print(f"deleted {delete_keys(args.redis_url, prefix)} Redis keys under {prefix}")
    if not results:
        return status or 1
    print()
    combined = aggregate(results)
    print(render(combined, args.rate))
    meta = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "grpc": grpc.__version__,
        "load_processes": "one per target and round, one at a time; servers are separate",
        "against_noop": args.against_noop,
        "complete": status == 0,
    } | {
        k: getattr(args, k)
        for k in ("duration", "warmup", "concurrency", "rate", "channels", "rounds")
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps({"meta": meta, "results": combined, "rounds": results}, indent=2) + "\n"
    )
    print(f"\nwrote {args.output}" + (" (partial results)" if status else ""))
    return status


if __name__ == "__main__":
    sys.exit(main())
