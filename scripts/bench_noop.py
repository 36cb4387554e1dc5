"""The benchmark's baseline: a bare grpc.aio server whose every unary method is a no-op.

`python -m scripts.bench_noop --port N` serves on 127.0.0.1:N until SIGTERM or SIGINT. Any
method path except the health service's answers an empty message (b"", which parses as the
default instance of every protobuf response type), with no interceptors, no telemetry and no
logging: what is left is grpc.aio itself, so "ratio to no-op" isolates what a service adds.
Answering every path also lets `bench_ratelimit --against-noop` point the rate-limit targets
here while the harness itself is being developed.

The standard health service is registered (SERVING) so readiness is checked the same way for
every target.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

_HEALTH_PREFIX = "/grpc.health.v1.Health/"
_EMPTY = b""


async def _noop(request: bytes, context: Any) -> bytes:
    return _EMPTY


class _AnyUnary(grpc.GenericRpcHandler):
    """Answers every unary call outside the health service with an empty message."""

    def __init__(self) -> None:
        # No (de)serializers: the request stays bytes and is never parsed.
        self._handler = grpc.unary_unary_rpc_method_handler(_noop)

    def service(self, handler_call_details: Any) -> Any:
        method: str = handler_call_details.method
        if method.startswith(_HEALTH_PREFIX):
            return None
        return self._handler


async def serve(port: int) -> None:
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_generic_rpc_handlers((_AnyUnary(),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if bound == 0:
        raise SystemExit(f"bench_noop: cannot bind 127.0.0.1:{port}")
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.stop(grace=1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
