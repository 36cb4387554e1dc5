"""The router benchmark's upstream: the tests' fake OpenAI-compatible API, fit for load.

    python -m scripts.bench_upstream --port N [--latency-seconds 0.02]

It serves `tests.router.upstreams`' fake (the same app as `python -m tests.router.upstreams
--kind openai`) with two differences that only matter under load:

- The listening socket is created with protocol IPPROTO_TCP. asyncio sets TCP_NODELAY on an
  accepted connection only when the socket says it is TCP; the tests' `bound_socket` passes
  protocol 0, so uvicorn's two writes per response (head, then body) meet Nagle's algorithm and
  the client's delayed ACK: every call then takes about 40 ms whatever the fake's latency.
- The fake keeps every request it sees (for tests' assertions); here nothing is kept, so memory
  stays flat over millions of calls.
"""

from __future__ import annotations

import argparse
import asyncio
import socket

from tests.router.upstreams.control import FakeUpstreamControl, RecordedRequest
from tests.router.upstreams.openai_fake import fake_openai_app
from tests.router.upstreams.serving import make_server, start_server


class _Forget(list[RecordedRequest]):
    """A request log that keeps nothing."""

    def append(self, item: RecordedRequest) -> None:
        return None


def tcp_socket(host: str, port: int) -> socket.socket:
    """Bound, not yet listening (uvicorn listens); IPPROTO_TCP so connections get NODELAY."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def serve(host: str, port: int, latency_seconds: float) -> None:
    control = FakeUpstreamControl(latency_seconds=latency_seconds, requests=_Forget())
    server = make_server(fake_openai_app(control))
    sock = tcp_socket(host, port)
    task = await start_server(server, sock)
    bound_host, bound_port = sock.getsockname()[:2]
    print(f"fake openai upstream at http://{bound_host}:{bound_port}/v1", flush=True)
    await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.latency_seconds))


if __name__ == "__main__":
    main()
