"""`make bench-router`: the latency and throughput the router adds to calling a provider.

Two servers, each its own process, and one load process per target (`bench_load`):

    upstream    the tests' fake OpenAI-compatible API (`bench_upstream`), answering every call
                after `--upstream-latency` seconds (default 20 ms: a provider's shape, kept quick)
    router      `python -m services.router` as its container runs it (default interceptors and
                tracing on), embedded: no Redis, SQLite in a temporary directory, a temporary
                catalogue of one OpenAI-compatible deployment pointing at the upstream, no retries

Four targets, one after the other (`--rounds N` repeats the sequence, interleaved, so drift in
what else the machine runs hits every target alike); see `bench_router_load` for each:

    direct      the upstream called over HTTP with httpx: the baseline
    complete    router `Complete`, not cacheable (temperature 0.7): router + upstream
    cache_hit   router `Complete`, the same deterministic request: answered from the cache
    stream      router `StreamComplete`, time to the first chunk

Each gets a saturation run (`--concurrency` calls in flight) and an open-loop run at `--rate`
requests/s, latency from each call's scheduled time. The report (`bench_router_report`) gives
each router target's added latency (its p50 and p99 minus the direct ones of the same round)
and its throughput as a ratio to the direct calls/s. On a 2-core machine the load process, the
router and the upstream share the cores, so read the CPU columns (% of one core) to see which
side ran out. Only loopback addresses are used. Results go to stdout as Markdown and to
`build/bench/router.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

import grpc
import httpx

from scripts.bench_load import LoadSpec, run_load
from scripts.bench_router_load import TARGETS, router_client
from scripts.bench_router_report import LABELS, aggregate, normalise, render
from scripts.bench_servers import (
    OUT_DIR,
    BenchError,
    Server,
    router_server,
    settle,
    upstream_server,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    p.add_argument("--concurrency", type=int, default=64, help="calls in flight (saturation)")
    p.add_argument("--rate", type=float, default=200.0, help="requests/s of the open-loop run")
    p.add_argument("--channels", type=int, default=4, help="gRPC channels per load process")
    p.add_argument("--rounds", type=int, default=1, help="interleaved repetitions (medians)")
    p.add_argument(
        "--upstream-latency", type=float, default=0.02, help="seconds the upstream takes per call"
    )
    p.add_argument("--skip-fixed-rate", action="store_true", help="saturation runs only")
    p.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to become ready")
    p.add_argument("--output", type=Path, default=OUT_DIR / "router.json")
    args = p.parse_args(argv)
    for name in ("duration", "concurrency", "rate", "channels", "rounds"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be positive")
    if args.warmup < 0 or args.duration > 3600 or args.concurrency > 10_000:
        p.error("--warmup must be >= 0, --duration <= 3600, --concurrency <= 10000")
    if not 0 <= args.upstream_latency <= 10:
        p.error("--upstream-latency must be between 0 and 10 seconds")
    return args


def start(
    stack: contextlib.ExitStack, args: argparse.Namespace, workdir: Path
) -> tuple[Server, Server]:
    """Both servers, started together (the router needs the upstream only once called)."""
    upstream = upstream_server(args.upstream_latency)
    stack.callback(upstream.stop)
    router = router_server(workdir, upstream)
    stack.callback(router.stop)
    upstream.wait_ready(args.ready_timeout)
    router.wait_ready(args.ready_timeout)
    return upstream, router


def bench(args: argparse.Namespace, workdir: Path, results: list[dict[str, Any]]) -> None:
    """Runs every target `--rounds` times, interleaved, appending each result as it comes in."""
    with contextlib.ExitStack() as stack:
        upstream, router = start(stack, args, workdir)
        for round_ in range(args.rounds):
            for target in TARGETS:
                direct = target == "direct"
                spec = LoadSpec(
                    target=target,
                    address=f"http://{upstream.address}/v1" if direct else router.address,
                    server_pid=(upstream if direct else router).proc.pid,
                    upstream_pid=None if direct else upstream.proc.pid,
                    concurrency=args.concurrency,
                    duration=args.duration,
                    warmup=args.warmup,
                    rate=args.rate,
                    fixed_rate=not args.skip_fixed_rate,
                    channels=args.channels,
                    slow_ms=None,
                )
                settle(router.proc.pid, upstream.proc.pid)
                print(
                    f"loading {LABELS[target]} (round {round_ + 1}/{args.rounds}) ...", flush=True
                )
                result = run_load(spec, router_client)
                results.append(normalise(result | {"label": LABELS[target], "round": round_}))


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    status = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-router-") as tmp:
            bench(args, Path(tmp), results)
    except BenchError as exc:
        print(f"bench-router: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("bench-router: interrupted", file=sys.stderr)
        status = 130
    if not results:
        return status or 1
    combined = aggregate(results)
    print()
    print(render(combined, args.rate))
    write_report(args, combined, results, complete=status == 0)
    return status


def write_report(
    args: argparse.Namespace,
    combined: list[dict[str, Any]],
    results: list[dict[str, Any]],
    *,
    complete: bool,
) -> None:
    meta = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "grpc": grpc.__version__,
        "httpx": httpx.__version__,
        "load_processes": "one per target and round, one at a time; servers are separate",
        "complete": complete,
    } | {
        k: getattr(args, k)
        for k in (
            "duration",
            "warmup",
            "concurrency",
            "rate",
            "channels",
            "rounds",
            "upstream_latency",
        )
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {"meta": meta, "results": combined, "rounds": results}
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}" + ("" if complete else " (partial results)"))


if __name__ == "__main__":
    sys.exit(main())
