"""The router benchmark's clients, one per target, for `bench_load.run_load`.

    direct       POST {upstream}/v1/chat/completions with httpx: the fake upstream alone, the
                 baseline. Each call in flight has its own keep-alive httpx client (one
                 connection each, reused call after call): one client sharing a 64-connection
                 pool spends several ms of CPU per call in httpcore's pool and would make the
                 load generator, not the upstream, the limit of the baseline.
    complete     router `Complete`, temperature 0.7: not cacheable, every call goes upstream.
                 1,000 distinct prompts, round robin.
    cache_hit    router `Complete`, temperature 0, the same request every time. One call before
                 the run stores the answer, so every measured call is a hit; a call that is not
                 counts as "miss".
    stream       router `StreamComplete`, temperature 0.7: latency is the time to the first
                 chunk; the worker still reads the stream to its end before its next call.

Every answer is parsed and checked (a completion with a choice; for the router, which way it
was served), so a broken path shows up as errors rather than as speed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
from switchboard.router.v1 import router_service_pb2 as pb

from scripts.bench_load import CALL_TIMEOUT_S, Call, LoadSpec, Outcome, answered, grpc_channels

MODEL = "bench-model"  # the public model of the benchmark's catalogue (`bench_servers`)
UPSTREAM_MODEL = "bench-upstream-model"
COMPLETE_METHOD = "/switchboard.router.v1.RouterService/Complete"
STREAM_METHOD = "/switchboard.router.v1.RouterService/StreamComplete"
DISTINCT_PROMPTS = 1000
TARGETS = ("direct", "complete", "cache_hit", "stream")


def prompt(i: int) -> str:
    return f"Benchmark question {i}: what is the capital of France?"


def _complete_request(i: int, temperature: float) -> pb.CompleteRequest:
    return pb.CompleteRequest(
        model=MODEL,
        messages=[pb.ChatMessage(role="user", content=prompt(i))],
        temperature=temperature,
        max_tokens=64,
    )


@contextlib.asynccontextmanager
async def router_client(spec: LoadSpec) -> AsyncIterator[Call]:
    """Any of `TARGETS`; "direct" talks HTTP to the upstream at `spec.address`."""
    if spec.target == "direct":
        async with _direct(spec) as call:
            yield call
        return
    if spec.target not in TARGETS:
        raise ValueError(f"unknown target {spec.target!r}")
    async with grpc_channels(spec) as channels:
        if spec.target == "stream":
            yield _stream_call(channels)
            return
        stubs = [ch.unary_unary(COMPLETE_METHOD) for ch in channels]
        if spec.target == "complete":
            requests = [
                _complete_request(i, 0.7).SerializeToString() for i in range(DISTINCT_PROMPTS)
            ]
            yield _complete_call(stubs, requests, expect_hit=False)
            return
        request = _complete_request(0, 0.0).SerializeToString()
        await stubs[0](request, timeout=CALL_TIMEOUT_S)  # stores the answer
        yield _complete_call(stubs, [request], expect_hit=True)


def _complete_call(stubs: list[Any], requests: list[bytes], *, expect_hit: bool) -> Call:
    async def call(i: int) -> Outcome:
        try:
            raw = await stubs[i % len(stubs)](requests[i % len(requests)], timeout=CALL_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            return answered(exc.code().name)
        done = time.perf_counter()
        reply = pb.CompleteResponse.FromString(raw)
        if not reply.choices:
            return "no_choices", done
        if reply.served.cache_hit != expect_hit:
            return ("miss" if expect_hit else "unexpected_hit"), done
        return "ok", done

    return call


def _stream_call(channels: list[grpc.aio.Channel]) -> Call:
    stubs = [ch.unary_stream(STREAM_METHOD) for ch in channels]
    requests = [
        pb.StreamCompleteRequest(request=_complete_request(i, 0.7)).SerializeToString()
        for i in range(DISTINCT_PROMPTS)
    ]

    async def call(i: int) -> Outcome:
        first: float | None = None
        served = False
        try:
            async for raw in stubs[i % len(stubs)](requests[i % len(requests)]):
                first = first or time.perf_counter()
                served = served or pb.StreamCompleteResponse.FromString(raw).HasField("served")
        except grpc.aio.AioRpcError as exc:
            return answered(exc.code().name)
        if first is None:
            return answered("empty_stream")
        return ("ok" if served else "unfinished_stream"), first

    return call


@contextlib.asynccontextmanager
async def _direct(spec: LoadSpec) -> AsyncIterator[Call]:
    base = spec.address.rstrip("/")
    bodies = [
        {
            "model": UPSTREAM_MODEL,
            "messages": [{"role": "user", "content": prompt(i)}],
            "temperature": 0.7,
            "max_tokens": 64,
        }
        for i in range(DISTINCT_PROMPTS)
    ]
    idle: list[httpx.AsyncClient] = []  # one keep-alive connection each; made as needed
    every: list[httpx.AsyncClient] = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def call(i: int) -> Outcome:
        if not idle:
            every.append(httpx.AsyncClient(limits=limits, trust_env=False))
            idle.append(every[-1])
        client = idle.pop()
        try:
            response = await client.post(
                f"{base}/chat/completions", json=bodies[i % len(bodies)], timeout=CALL_TIMEOUT_S
            )
            done = time.perf_counter()
            if response.status_code != 200:
                return f"HTTP_{response.status_code}", done
            return ("ok" if response.json().get("choices") else "no_choices"), done
        except httpx.HTTPError as exc:
            return answered(type(exc).__name__)
        finally:
            idle.append(client)

    try:
        yield call
    finally:
        for client in every:
            await client.aclose()
