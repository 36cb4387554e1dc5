"""`make bench-gateway`: what a gateway adds to a chat completion, Switchboard against others.

One run, one machine, one fake upstream (`bench_fake_openai`, which answers at once), the same
small chat request (`max_tokens` 16) to every target of `bench_gateway_targets`: the upstream
called directly, Switchboard's full pipeline through its gateway, LiteLLM's proxy and Portkey's
gateway. Targets run one after the other, each started before its runs and stopped after.

For each target, plain and streaming (`stream: true` with `include_usage`), two closed-loop
runs of the load generator (`bench_http_load`, a process of its own):

    1 connection     latency p50 / p99; "added" is the target's minus the direct call's
    50 connections   requests/s (and p50 / p99 under that load)

plus the CPU the target's processes used per request (summed over them, from /proc) and their
peak resident memory (VmHWM, summed over each target's process tree) at the end. A failed call
is counted as an error by kind, never as speed; a target that cannot be installed or started is
reported as not measured, with the reason. Results: a Markdown table on stdout and
build/bench/gateways.json. Timings on a shared 2-core machine are noisy: read ratios within
one run, not absolute numbers across runs.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from scripts.bench_competitors import litellm, portkey
from scripts.bench_gateway_targets import (
    MODEL,
    Target,
    direct,
    fake_upstream,
    peak_rss_mib,
    switchboard,
    wait_briefly,
)
from scripts.bench_http_load import HttpLoadSpec, run_http_load, summary
from scripts.bench_servers import OUT_DIR, BenchError, Server, cpu_seconds, delete_keys

TARGETS = ("direct", "switchboard", "litellm", "portkey")
MODES = ("plain", "stream")
PROMPT = "What is the capital of France? Answer in one word."


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    p.add_argument("--connections", type=int, default=50, help="connections of the load run")
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset")
    p.add_argument(
        "--backends",
        choices=("embedded", "real"),
        default="embedded",
        help="Switchboard's state: memory + SQLite (make run's), or Redis + PostgreSQL",
    )
    p.add_argument("--output", type=Path, default=OUT_DIR / "gateways.json")
    args = p.parse_args(argv)
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(args.targets) - set(TARGETS))
    if unknown or not args.targets:
        p.error(f"--targets takes a subset of {','.join(TARGETS)}; unknown: {unknown}")
    if args.duration <= 0 or args.warmup < 0 or not 1 <= args.connections <= 1000:
        p.error("--duration must be positive, --warmup >= 0, --connections within 1..1000")
    return args


def request_body(stream: bool) -> bytes:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 16,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(body).encode()


def measure(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Every mode and connection count against one running target."""
    pids = [server.proc.pid for server in target.servers]
    runs: dict[str, Any] = {}
    for mode in MODES:
        for connections in (1, args.connections):
            spec = HttpLoadSpec(
                url=f"{target.base_url}/chat/completions",
                body=request_body(mode == "stream"),
                headers=target.headers,
                stream=mode == "stream",
                connections=connections,
                duration=args.duration,
                warmup=args.warmup,
            )
            print(f"  {target.name}: {mode}, {connections} connection(s) ...", flush=True)
            before = _cpu(pids)
            result = summary(run_http_load(spec))
            used = _cpu(pids) - before
            calls = result["calls"]
            # CPU over warm-up and run alike; per call it is an upper bound, the same for all.
            result["server_cpu_ms_per_call"] = used * 1000.0 / calls if calls and pids else None
            runs[f"{mode}@{connections}"] = result
    memory = [peak_rss_mib(pid) for pid in pids]
    runs["peak_rss_mib"] = sum(m for m in memory if m is not None) if pids else None
    runs["processes"] = len(pids)
    return runs


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def start_target(
    name: str, upstream: Server, workdir: Path, args: argparse.Namespace, prefix: str
) -> Target:
    starters: dict[str, Callable[[], Target]] = {
        "direct": lambda: direct(upstream),
        "switchboard": lambda: switchboard(
            workdir, upstream, real=args.backends == "real", prefix=prefix
        ),
        "litellm": lambda: litellm(workdir, upstream),
        "portkey": lambda: portkey(upstream),
    }
    return starters[name]()


def bench(args: argparse.Namespace, workdir: Path, report: dict[str, Any]) -> None:
    upstream = fake_upstream()
    prefix = f"bench-gw-{secrets.token_hex(4)}:"
    try:
        upstream.wait_ready(30.0)
        for name in args.targets:
            print(f"starting {name} ...", flush=True)
            try:
                target = start_target(name, upstream, workdir, args, prefix)
            except BenchError as exc:
                print(f"  {name} not measured: {exc}", file=sys.stderr, flush=True)
                report["targets"][name] = {"not_measured": str(exc)}
                continue
            try:
                report["targets"][name] = {"version": target.version} | measure(target, args)
            finally:
                target.stop()
                wait_briefly()
    finally:
        upstream.stop()
        if args.backends == "real" and "switchboard" in args.targets:
            delete_keys(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), prefix)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def render(report: dict[str, Any]) -> str:
    targets: dict[str, Any] = report["targets"]
    load = report["meta"]["connections"]
    lines: list[str] = []
    for mode in MODES:
        base = targets.get("direct", {}).get(f"{mode}@1", {})
        lines += [
            f"\n{mode}: latency at 1 connection, throughput at {load} connections",
            "",
            f"| target | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s @{load} "
            f"| p99 ms @{load} | server CPU ms/req | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name, runs in targets.items():
            if "not_measured" in runs:
                reason = runs["not_measured"].splitlines()[0][:120]
                lines.append(f"| {name} | not measured: {reason} |||||||")
                continue
            one, many = runs[f"{mode}@1"], runs[f"{mode}@{load}"]
            added = [_minus(one.get(k), base.get(k)) for k in ("p50_ms", "p99_ms")]
            errors = {**one["errors"], **{k: v for k, v in many["errors"].items()}}
            lines.append(
                f"| {name} | {_ms(one['p50_ms'])} | {_ms(one['p99_ms'])} | {_ms(added[0])} "
                f"| {_ms(added[1])} | {many['rps']:.0f} | {_ms(many['p99_ms'])} "
                f"| {_ms(many['server_cpu_ms_per_call'])} | {errors or 0} |"
            )
    lines += ["", "| target | version | processes | peak RSS MiB |", "|---|---|---:|---:|"]
    for name, runs in targets.items():
        if "not_measured" not in runs:
            rss = _ms(runs["peak_rss_mib"]) if runs["peak_rss_mib"] else "n/a"
            lines.append(f"| {name} | {runs['version']} | {runs['processes']} | {rss} |")
    return "\n".join(lines + verdict(targets, load))


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def verdict(targets: dict[str, Any], load: int) -> list[str]:
    """Switchboard against Portkey, the issue's bar, in this run's numbers."""
    ours, theirs, base = (targets.get(n, {}) for n in ("switchboard", "portkey", "direct"))
    if any("not_measured" in t or not t for t in (ours, theirs, base)):
        return ["", "verdict: not available (switchboard, portkey and direct must all run)"]
    out = [""]
    for mode in MODES:
        if not theirs[f"{mode}@1"]["calls"] or not theirs[f"{mode}@{load}"]["calls"]:
            out.append(f"verdict {mode}: not comparable, Portkey answered no call successfully")
            continue
        added = [
            _minus(t[f"{mode}@1"]["p50_ms"], base[f"{mode}@1"]["p50_ms"]) for t in (ours, theirs)
        ]
        rps = [t[f"{mode}@{load}"]["rps"] for t in (ours, theirs)]
        latency_ok = added[0] is not None and added[1] is not None and added[0] <= added[1]
        out.append(
            f"verdict {mode}: added p50 {_ms(added[0])} ms vs Portkey {_ms(added[1])} ms "
            f"({'met' if latency_ok else 'NOT met'}); {rps[0]:.0f} vs {rps[1]:.0f} req/s "
            f"(ratio {rps[0] / rps[1]:.2f}, {'met' if rps[0] >= rps[1] else 'NOT met'})"
        )
    return out


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "meta": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duration": args.duration,
            "warmup": args.warmup,
            "connections": args.connections,
            "backends": args.backends,
        },
        "targets": {},
    }
    status = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-gateways-") as tmp:
            bench(args, Path(tmp), report)
    except BenchError as exc:
        print(f"bench-gateway: {exc}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("bench-gateway: interrupted", file=sys.stderr)
        status = 130
    with contextlib.suppress(KeyError):
        print(render(report))
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return status


if __name__ == "__main__":
    sys.exit(main())
