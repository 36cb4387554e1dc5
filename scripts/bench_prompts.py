"""`make bench-prompts`: reading a prompt by label, through the cached client and through the
uncached RPC, in the same run.

One server, `python -m services.prompts` as its container runs it, in its own process
(embedded SQLite in a temporary directory; `--database-url` for a PostgreSQL server, where the
benchmark creates a database of its own and drops it afterwards), seeded with `--prompts`
prompts of two versions each, `production` on the first. This process then reads `production`
of prompts picked at random, two ways:

    rpc      GetPrompt over gRPC every time: the baseline (the database read included)
    cached   PromptClient.get: the in-process cache, warm, kept fresh by WatchPromptChanges

Each path is measured twice: `--calls` sequential calls for latency (p50, p99), and
`--concurrency` callers for `--duration` seconds for throughput. The ratios are the cached
path's throughput over the RPC's and the RPC's p50 over the cached one's. Then, `--moves` times,
`production` of a prompt is moved and the time until the cached client has dropped the old
version is recorded (the invalidation delay: how stale a warm cache can be), and at the end
every prompt is read both ways and compared: the cached answers must be the current ones.
Results: stdout (Markdown) and `build/bench/prompts.json`. Nothing is asserted on time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from switchboard.prompts.v1 import prompts_service_pb2 as pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from scripts.bench_cost import admin
from scripts.bench_servers import OUT_DIR, BenchError, Server, free_port, running
from services.prompts.client import PromptClient

Read = Callable[[str], Awaitable[int]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--prompts", type=int, default=100, help="prompts seeded")
    p.add_argument("--calls", type=int, default=3000, help="sequential calls per path (latency)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of throughput per path")
    p.add_argument("--concurrency", type=int, default=16, help="callers in the throughput runs")
    p.add_argument("--moves", type=int, default=20, help="label moves timed for invalidation")
    p.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server (postgresql+asyncpg://...); empty: embedded SQLite",
    )
    p.add_argument("--ready-timeout", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path, default=OUT_DIR / "prompts.json")
    args = p.parse_args(argv)
    for name in ("prompts", "calls", "duration", "concurrency", "moves"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be positive")
    return args


def prompts_server(env: dict[str, str]) -> Server:
    port = free_port()
    env = dict(os.environ) | env
    env |= {
        "PROMPTS_GRPC_HOST": "127.0.0.1",
        "PROMPTS_GRPC_PORT": str(port),
        "PROMPTS_METRICS_PORT": str(free_port()),
        "PROMPTS_LOG_LEVEL": "WARNING",
    }
    return Server("prompts", [sys.executable, "-m", "services.prompts"], env, port)


def name_of(i: int) -> str:
    return f"bench/folder-{i % 10}/prompt-{i:05d}"


async def seed(stub: pb_grpc.PromptServiceStub, count: int) -> None:
    for i in range(count):
        text = f"You answer questions about {{{{ topic }}}} for customer {i}."
        await stub.CreatePromptVersion(
            pb.CreatePromptVersionRequest(name=name_of(i), text=text, labels=["production"])
        )
        await stub.CreatePromptVersion(
            pb.CreatePromptVersionRequest(name=name_of(i), text=text + " Be brief.")
        )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(read: Read, names: list[str]) -> dict[str, float]:
    samples = []
    for name in names:
        started = time.perf_counter()
        await read(name)
        samples.append(time.perf_counter() - started)
    return {
        "calls": len(samples),
        "p50_ms": percentile(samples, 0.50) * 1000,
        "p99_ms": percentile(samples, 0.99) * 1000,
        "mean_ms": statistics.fmean(samples) * 1000,
    }


async def throughput(read: Read, names: list[str], args: argparse.Namespace) -> dict[str, float]:
    deadline = time.perf_counter() + args.duration
    counts = [0] * args.concurrency

    async def caller(index: int) -> None:
        rng = random.Random(args.seed + index)
        while time.perf_counter() < deadline:
            await read(rng.choice(names))
            counts[index] += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(args.concurrency)))
    elapsed = time.perf_counter() - started
    return {"calls": sum(counts), "seconds": elapsed, "calls_per_s": sum(counts) / elapsed}


async def invalidation_delays(
    stub: pb_grpc.PromptServiceStub, client: PromptClient, args: argparse.Namespace
) -> dict[str, float]:
    """Seconds from a MoveLabel's answer until the cached client has dropped the old version."""
    delays = []
    rng = random.Random(args.seed)
    for _ in range(args.moves):
        name = name_of(rng.randrange(args.prompts))
        current = (await client.get(name)).version.number
        seen = client.stats.invalidations
        await stub.MoveLabel(
            pb.MoveLabelRequest(name=name, label="production", version=3 - current)
        )
        answered = time.perf_counter()
        await asyncio.wait_for(client.wait_changes(seen + 1), 30)
        delays.append(time.perf_counter() - answered)
    return {
        "moves": len(delays),
        "p50_ms": percentile(delays, 0.5) * 1000,
        "max_ms": max(delays) * 1000,
    }


async def consistent(stub: pb_grpc.PromptServiceStub, client: PromptClient, count: int) -> bool:
    for i in range(count):
        direct = await stub.GetPrompt(pb.GetPromptRequest(name=name_of(i)))
        cached = await client.get(name_of(i))
        if (direct.version.version, direct.version.content_hash) != (
            cached.version.number,
            cached.version.content_hash,
        ):
            return False
    return True


async def measure(address: str, args: argparse.Namespace) -> dict[str, Any]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.PromptServiceStub(channel)
        await seed(stub, args.prompts)
        rng = random.Random(args.seed)
        names = [name_of(rng.randrange(args.prompts)) for _ in range(args.calls)]

        async def rpc(name: str) -> int:
            return int((await stub.GetPrompt(pb.GetPromptRequest(name=name))).version.version)

        async with PromptClient(channel, ttl_seconds=3600) as client:
            await client.wait_synced()

            async def cached(name: str) -> int:
                return (await client.get(name)).version.number

            for i in range(args.prompts):  # warm: the figure is the cache's, not its misses
                await cached(name_of(i))
            result: dict[str, Any] = {}
            for path, read in (("rpc", rpc), ("cached", cached)):
                print(f"measuring {path} ...", flush=True)
                result[path] = {
                    "latency": await latency(read, names),
                    "throughput": await throughput(read, list(set(names)), args),
                }
            result["invalidation"] = await invalidation_delays(stub, client, args)
            result["consistent"] = await consistent(stub, client, args.prompts)
            result["client_stats"] = vars(client.stats)
    rpc_, cached_ = result["rpc"], result["cached"]
    result["ratios"] = {
        "throughput_cached_over_rpc": cached_["throughput"]["calls_per_s"]
        / rpc_["throughput"]["calls_per_s"],
        "p50_rpc_over_cached": rpc_["latency"]["p50_ms"] / cached_["latency"]["p50_ms"],
    }
    return result


async def with_database(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if not args.database_url:
        return await serve_and_measure({"PROMPTS_SQLITE_PATH": str(workdir / "p.db")}, args)
    name = f"bench_prompts_{uuid.uuid4().hex[:12]}"
    await admin(args.database_url, f'CREATE DATABASE "{name}"')
    url = make_url(args.database_url).set(drivername="postgresql+asyncpg", database=name)
    try:
        env = {"PROMPTS_DATABASE_URL": url.render_as_string(hide_password=False)}
        return await serve_and_measure(env, args)
    finally:
        await admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def serve_and_measure(env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    server = prompts_server(env)
    with running(server, args.ready_timeout):
        return await measure(server.address, args)


def render(result: dict[str, Any], args: argparse.Namespace) -> str:
    database = "PostgreSQL" if args.database_url else "SQLite"
    rows = []
    for path, label in (("rpc", "GetPrompt RPC (uncached)"), ("cached", "PromptClient (cached)")):
        lat, thr = result[path]["latency"], result[path]["throughput"]
        rows.append(
            f"| {label} | {lat['p50_ms']:.3f} | {lat['p99_ms']:.3f} | {thr['calls_per_s']:,.0f} |"
        )
    ratios, moved = result["ratios"], result["invalidation"]
    return "\n".join(
        [
            f"{args.prompts} prompts on {database}; latency over {args.calls} sequential calls, "
            f"throughput with {args.concurrency} callers for {args.duration:g} s",
            "",
            "| get by label | p50 ms | p99 ms | calls/s |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"cached over uncached: {ratios['throughput_cached_over_rpc']:,.0f}x the throughput, "
            f"p50 {ratios['p50_rpc_over_cached']:,.0f}x lower",
            f"invalidation after a label move ({moved['moves']} moves): "
            f"p50 {moved['p50_ms']:.1f} ms, max {moved['max_ms']:.1f} ms",
            f"cached answers current after the moves: {'yes' if result['consistent'] else 'NO'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-prompts-") as tmp:
            result = asyncio.run(with_database(args, Path(tmp)))
    except (BenchError, OSError, sa.exc.DBAPIError) as exc:
        print(f"bench-prompts: {exc}", file=sys.stderr)
        return 1
    print()
    print(render(result, args))
    meta = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "grpc": grpc.__version__,
        "database": "postgresql" if args.database_url else "sqlite",
    } | {k: getattr(args, k) for k in ("prompts", "calls", "duration", "concurrency", "moves")}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"meta": meta, "result": result}, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0 if result["consistent"] else 1


if __name__ == "__main__":
    sys.exit(main())
