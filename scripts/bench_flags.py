"""`make bench-flags`: flag evaluations/s over RPC against in-process evaluation fed by our sync
stream, in the same run, and how long a change takes to reach an in-process client.

One server: `python -m services.flags` as its container runs it (embedded SQLite in a temporary
directory), loaded through FLAGS_SOURCE_FILES with a small flag set of the shapes that matter:
a static flag, a targeting rule with a shared `$ref` evaluator and `sem_ver`, and an A/B split
(`fractional` on the targeting key). Every evaluation cycles through those flags and through
`--users` targeting keys, so targeting runs each time. Targets, one after the other (`--rounds`
repeats the sequence, interleaved, so drift in what else the machine runs hits each alike):

    rpc          the OpenFeature SDK with the flagd provider in RPC mode (flagd.evaluation.v2),
                 its cache off, one caller: what an application calling the SDK waits for
    rpc_async    the evaluation service called directly with `--concurrency` calls in flight
                 (grpc.aio, the provider wheel's stubs): the service's throughput
    in_process   the OpenFeature SDK with the flagd provider in in-process mode, its flags from
                 our SyncFlags stream, one caller: evaluation in the caller's own process

Both providers run with a 30 s keepalive (see `provider`). The ratios are in-process
evaluations/s over each RPC target's. Before timing, the answers of
both provider modes are compared for every flag and user (they must agree: the service and
the in-process provider run the same engine). Then `--changes` admin updates are timed from
the UpdateFlag call to the in-process provider's configuration-changed event. The server's CPU
(% of one core) is read from /proc for each target. Results: stdout (Markdown) and
`build/bench/flags.json`; nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from openfeature import api
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import CacheType, ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2 as v2
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2_grpc as v2_grpc
from switchboard.flags.v1 import flags_service_pb2 as pb
from switchboard.flags.v1 import flags_service_pb2_grpc as pb_grpc

from scripts.bench_servers import OUT_DIR, BenchError, Server, cpu_seconds, free_port, running

OUT = OUT_DIR / "flags.json"
KEEPALIVE_MS = 30_000
FLAG_SET = "bench"
FLAGS: dict[str, Any] = {
    "flags": {
        "static-banner": {
            "state": "ENABLED",
            "variants": {"red": "#f00", "blue": "#00f"},
            "defaultVariant": "red",
        },
        "beta-features": {
            "state": "ENABLED",
            "variants": {"on": "on", "off": "off"},
            "defaultVariant": "off",
            "targeting": {
                "if": [
                    {"and": [{"$ref": "staff"}, {"sem_ver": [{"var": "app"}, ">=", "2.1.0"]}]},
                    "on",
                    None,
                ]
            },
        },
        "model-experiment": {
            "state": "ENABLED",
            "variants": {"small": "gpt-4o-mini", "large": "gpt-4o"},
            "defaultVariant": "small",
            "targeting": {"fractional": [["small", 50], ["large", 50]]},
        },
    },
    "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@example.com"]}},
}
KEYS = list(FLAGS["flags"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per target")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=32, help="rpc_async calls in flight")
    p.add_argument("--users", type=int, default=1000, help="distinct targeting keys")
    p.add_argument("--changes", type=int, default=20, help="admin changes timed to in-process")
    p.add_argument("--output", type=Path, default=OUT)
    return p.parse_args(argv)


def contexts(users: int) -> list[EvaluationContext]:
    return [
        EvaluationContext(
            f"user-{i}",
            {"email": f"u{i}@example.com" if i % 3 == 0 else f"u{i}@x.io", "app": f"2.{i % 4}.0"},
        )
        for i in range(users)
    ]


def provider(mode: ResolverType, port: int) -> Any:
    """A ready OpenFeature client of the flagd provider in `mode`, and its provider."""
    flagd = FlagdProvider(
        resolver_type=mode,
        host="127.0.0.1",
        port=port,
        cache=CacheType.DISABLED,
        deadline_ms=5000,
        stream_deadline_ms=0,
        # The provider's default (0) makes grpc ping about every millisecond, which servers
        # (flagd's as ours) answer with GOAWAY "too_many_pings": the channel then reconnects.
        keep_alive_time=KEEPALIVE_MS,
    )
    domain = f"bench-{mode.value}"
    api.set_provider_and_wait(flagd, domain)
    return api.get_client(domain), flagd


def sequential(
    evaluate: Callable[[str, EvaluationContext], Any],
    users: list[EvaluationContext],
    duration: float,
) -> tuple[int, float]:
    """Evaluations done one after the other for `duration` s: (count, seconds)."""
    done, started = 0, time.perf_counter()
    deadline = started + duration
    while time.perf_counter() < deadline:
        for _ in range(100):
            evaluate(KEYS[done % len(KEYS)], users[done % len(users)])
            done += 1
    return done, time.perf_counter() - started


async def concurrent(
    port: int, users: list[EvaluationContext], duration: float, width: int
) -> tuple[int, float]:
    """rpc_async: `width` callers each calling ResolveString back to back."""
    requests = []
    for i, user in enumerate(users):
        request = v2.ResolveStringRequest(flag_key=KEYS[i % len(KEYS)])
        values: dict[str, Any] = {"targetingKey": user.targeting_key, **user.attributes}
        request.context.update(values)
        requests.append(request)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = v2_grpc.ServiceStub(channel)
        await stub.ResolveString(requests[0])
        counts = [0] * width
        deadline = time.perf_counter() + duration

        async def caller(n: int) -> None:
            while time.perf_counter() < deadline:
                await stub.ResolveString(requests[(counts[n] * width + n) % len(requests)])
                counts[n] += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller(n) for n in range(width)))
        return sum(counts), time.perf_counter() - started


def measured(server: Server, run: Callable[[], tuple[int, float]]) -> dict[str, float]:
    cpu_before = cpu_seconds(server.proc.pid)
    count, seconds = run()
    cpu_after = cpu_seconds(server.proc.pid)
    result = {"evaluations": count, "seconds": seconds, "per_s": count / seconds}
    if cpu_before is not None and cpu_after is not None:
        result["server_cpu_pct"] = (cpu_after - cpu_before) / seconds * 100
    return result


def check_agreement(clients: dict[str, Any], users: list[EvaluationContext]) -> int:
    """Both modes answer alike for every flag and user; returns how many answers compared."""
    compared = 0
    for key in KEYS:
        for user in users:
            answers = {mode: c.get_string_details(key, "", user) for mode, c in clients.items()}
            if any(d.error_code is not None for d in answers.values()):
                raise BenchError(f"{key} failed for {user.targeting_key}: {answers}")
            if len({(d.value, d.variant) for d in answers.values()}) != 1:
                raise BenchError(f"the modes disagree on {key} for {user.targeting_key}: {answers}")
            compared += 1
    return compared


def propagation(port: int, client: Any, changes: int) -> list[float]:
    """Milliseconds from each UpdateFlag call to the in-process provider's change event."""
    seen = threading.Event()

    def changed(details: EventDetails) -> None:
        if "static-banner" in (details.flags_changed or []):
            seen.set()

    client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changed)
    latencies = []
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        admin = pb_grpc.FlagsServiceStub(channel)
        for i in range(changes):
            flag = pb.Flag(key="static-banner", default_variant="blue" if i % 2 == 0 else "red")
            for name, value in FLAGS["flags"]["static-banner"]["variants"].items():
                flag.variants[name].string_value = value
            seen.clear()
            started = time.perf_counter()
            admin.UpdateFlag(pb.UpdateFlagRequest(flag_set_id=FLAG_SET, flag=flag, author="bench"))
            if not seen.wait(10):
                raise BenchError("a change did not reach the in-process client within 10 s")
            latencies.append((time.perf_counter() - started) * 1000)
    client.remove_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changed)
    return latencies


def run(args: argparse.Namespace, server: Server, port: int) -> dict[str, Any]:
    users = contexts(args.users)
    rpc_client, rpc_provider = provider(ResolverType.RPC, port)
    local_client, local_provider = provider(ResolverType.IN_PROCESS, port)
    try:
        compared = check_agreement({"rpc": rpc_client, "in_process": local_client}, users)
        targets: dict[str, Callable[[], tuple[int, float]]] = {
            "rpc": lambda: sequential(
                lambda k, u: rpc_client.get_string_value(k, "", u), users, args.duration
            ),
            "rpc_async": lambda: asyncio.run(
                concurrent(port, users, args.duration, args.concurrency)
            ),
            "in_process": lambda: sequential(
                lambda k, u: local_client.get_string_value(k, "", u), users, args.duration
            ),
        }
        rounds = [
            {name: measured(server, target) for name, target in targets.items()}
            for _ in range(args.rounds)
        ]
        latencies = propagation(port, local_client, args.changes)
    finally:
        rpc_provider.shutdown()
        local_provider.shutdown()
    return {"rounds": rounds, "agreement_checked": compared, "propagation_ms": latencies}


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    targets = ("rpc", "rpc_async", "in_process")
    per_s = {t: statistics.median(r[t]["per_s"] for r in result["rounds"]) for t in targets}
    cpu = {
        t: statistics.median(r[t].get("server_cpu_pct", 0.0) for r in result["rounds"])
        for t in targets
    }
    latencies = result["propagation_ms"]
    return {
        "per_s": per_s,
        "server_cpu_pct": cpu,
        "in_process_over_rpc": per_s["in_process"] / per_s["rpc"],
        "in_process_over_rpc_async": per_s["in_process"] / per_s["rpc_async"],
        "agree": True,
        "propagation_ms_p50": statistics.median(latencies) if latencies else None,
        "propagation_ms_max": max(latencies) if latencies else None,
    }


def render(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    labels = {
        "rpc": "RPC, SDK + flagd provider (1 caller)",
        "rpc_async": f"RPC, grpc.aio ({meta['concurrency']} in flight)",
        "in_process": "in-process, fed by SyncFlags (1 caller)",
    }
    lines = [
        "| target | evaluations/s | µs/evaluation | server CPU % | in-process ÷ this |",
        "|---|---:|---:|---:|---:|",
    ]
    for target, label in labels.items():
        rate = summary["per_s"][target]
        ratio = summary["per_s"]["in_process"] / rate
        lines.append(
            f"| {label} | {rate:,.0f} | {1e6 / rate:,.1f} | "
            f"{summary['server_cpu_pct'][target]:.0f} | {ratio:.1f}x |"
        )
    if summary["propagation_ms_p50"] is not None:
        lines.append(
            f"\nAdmin change to in-process client: p50 {summary['propagation_ms_p50']:.1f} ms, "
            f"max {summary['propagation_ms_max']:.1f} ms over {meta['changes']} changes."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-flags-"))
    flags_file = workdir / "flags.json"
    flags_file.write_text(json.dumps(FLAGS))
    port = free_port()
    env = {
        **os.environ,
        "FLAGS_GRPC_HOST": "127.0.0.1",
        "FLAGS_GRPC_PORT": str(port),
        "FLAGS_METRICS_PORT": "0",
        "FLAGS_SQLITE_PATH": str(workdir / "flags.sqlite3"),
        "FLAGS_SOURCE_FILES": f"{FLAG_SET}={flags_file}",
        "OTEL_SDK_DISABLED": "true",
        "FLAGS_LOG_LEVEL": "WARNING",
    }
    server = Server("flags", [sys.executable, "-m", "services.flags"], env, port)
    try:
        with running(server, ready_timeout=60):
            result = run(args, server, port)
    except BenchError as exc:
        print(f"bench-flags: {exc}", file=sys.stderr)
        return 1
    meta = {
        "duration_s": args.duration,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "users": args.users,
        "changes": args.changes,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    summary = summarize(result)
    report = {"meta": meta, "summary": summary, **result}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(render(summary, meta))
    print(f"\n(written to {args.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
