"""Run one fake upstream as its own process, e.g. as the upstream of a benchmark.

    python -m tests.router.upstreams --port 9000 --kind openai [--latency-seconds 0.05]

It prints its base URL once it accepts connections, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio

from tests.router.upstreams.anthropic_fake import fake_anthropic_app
from tests.router.upstreams.control import FakeUpstreamControl
from tests.router.upstreams.openai_fake import fake_openai_app
from tests.router.upstreams.serving import bound_socket, make_server, start_server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--kind", choices=["openai", "anthropic"], default="openai")
    parser.add_argument("--latency-seconds", type=float, default=0.0)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    control = FakeUpstreamControl(
        seed=args.seed, failure_rate=args.failure_rate, latency_seconds=args.latency_seconds
    )
    app = fake_openai_app(control) if args.kind == "openai" else fake_anthropic_app(control)
    sock = bound_socket(args.host, args.port)
    server = make_server(app)
    host, port = sock.getsockname()[:2]
    task = await start_server(server, sock)
    print(f"fake {args.kind} upstream at http://{host}:{port}/v1", flush=True)
    await task


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
