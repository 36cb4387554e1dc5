"""The gateway benchmark's HTTP load generator: keep-alive connections, closed loop, one process.

`run_http_load(spec)` runs the load in a child process (spawn) so its CPU is its own and can be
reported beside the servers'. Each of `spec.connections` workers holds one keep-alive HTTP/1.1
connection and keeps one request in flight on it: send, read the whole response, send again.
Requests are bytes built once; responses are parsed with httptools (Content-Length or chunked),
so the generator costs a few tens of microseconds a call and every gateway meets the same client.

After `warmup` seconds, calls that complete within the next `duration` seconds count. A call's
latency runs from its send to the end of the response; for a stream, `first_byte` runs to the
first body bytes too. Every answer is checked: status 200 and a completion's shape (a JSON body
with `"choices"`, or an event stream that ends with `data: [DONE]`); anything else counts as an
error by its status, and a connection that fails is opened again (counted as "connect").
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

import httptools
import uvloop

from scripts.bench_servers import cpu_seconds

CALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HttpLoadSpec:
    url: str  # http://host:port/path
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    stream: bool = False
    connections: int = 1
    duration: float = 10.0
    warmup: float = 2.0


@dataclass
class HttpLoadResult:
    calls: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_byte_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu_s: float | None = None


def request_bytes(spec: HttpLoadSpec) -> tuple[str, int, bytes]:
    parts = urlsplit(spec.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"host: {host}:{port}",
        "content-type: application/json",
        f"content-length: {len(spec.body)}",
        *(f"{name}: {value}" for name, value in spec.headers),
    ]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + spec.body


class _Response:
    """httptools callbacks for one response at a time on a connection."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.reset()

    def reset(self) -> None:
        self.body: list[bytes] = []
        self.first_body_at: float | None = None
        self.complete = False

    def on_body(self, body: bytes) -> None:
        if self.first_body_at is None:
            self.first_body_at = time.perf_counter()
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


def _verdict(status: int, body: bytes, stream: bool) -> str:
    if status != 200:
        return f"http {status}"
    if stream:
        return "ok" if body.rstrip().endswith(b"data: [DONE]") else "bad stream"
    return "ok" if b'"choices"' in body else "bad body"


async def _call(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    request: bytes,
    response: _Response,
    stream: bool,
) -> tuple[str, float, float]:
    """One request on an open connection: (verdict, seconds to the end, seconds to first body)."""
    reader, writer = connection
    response.reset()
    started = time.perf_counter()
    writer.write(request)
    while not response.complete:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("closed by the server")
        response.parser.feed_data(data)
    ended = time.perf_counter()
    first = (response.first_body_at or ended) - started
    status = response.parser.get_status_code()
    return _verdict(status, b"".join(response.body), stream), ended - started, first


async def _worker(spec: HttpLoadSpec, window: tuple[float, float], result: HttpLoadResult) -> None:
    host, port, request = request_bytes(spec)
    start, end = window
    while time.perf_counter() < end:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            result.errors["connect"] += 1
            await asyncio.sleep(0.05)
            continue
        response = _Response()
        try:
            while time.perf_counter() < end:
                verdict, took, first = await asyncio.wait_for(
                    _call((reader, writer), request, response, spec.stream), CALL_TIMEOUT_S
                )
                if not start <= time.perf_counter() <= end:
                    continue
                if verdict != "ok":
                    result.errors[verdict] += 1
                    continue
                result.calls += 1
                result.latencies_ms.append(took * 1000.0)
                result.first_byte_ms.append(first * 1000.0)
        except (OSError, ConnectionError, TimeoutError, httptools.HttpParserError) as exc:
            result.errors[type(exc).__name__] += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _load(spec: HttpLoadSpec) -> HttpLoadResult:
    result = HttpLoadResult()
    now = time.perf_counter()
    window = (now + spec.warmup, now + spec.warmup + spec.duration)
    await asyncio.gather(*(_worker(spec, window, result) for _ in range(spec.connections)))
    result.seconds = spec.duration
    return result


def _child(spec: HttpLoadSpec, out: Connection) -> None:
    import os

    before = cpu_seconds(os.getpid())
    result = uvloop.run(_load(spec))
    after = cpu_seconds(os.getpid())
    if before is not None and after is not None:
        result.client_cpu_s = after - before
    out.send(result)
    out.close()


def run_http_load(spec: HttpLoadSpec) -> HttpLoadResult:
    """Runs `spec` in a spawned process and returns what it measured."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(spec, send), daemon=True)
    child.start()
    send.close()
    try:
        result: HttpLoadResult = receive.recv()
    except EOFError as exc:
        raise RuntimeError("the load process died without a result") from exc
    finally:
        child.join(timeout=10)
    return result


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[index]


def summary(result: HttpLoadResult) -> dict[str, Any]:
    return {
        "calls": result.calls,
        "rps": result.calls / result.seconds if result.seconds else 0.0,
        "p50_ms": percentile(result.latencies_ms, 50),
        "p99_ms": percentile(result.latencies_ms, 99),
        "first_byte_p50_ms": percentile(result.first_byte_ms, 50),
        "errors": dict(result.errors),
        "client_cpu_s": result.client_cpu_s,
    }
