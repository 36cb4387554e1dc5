"""The benchmark's baseline: a bare grpc.aio server whose every unary method is a no-op.

`python -m scripts.bench_noop --port N` serves on 127.0.0.1:N until SIGTERM or SIGINT. Any
method path except the health service's answers an empty message (b"", which parses as the
default instance of every protobuf response type), with no interceptors, no telemetry and no
logging: what is left is grpc.aio itself, so "ratio to no-op" isolates what a service adds.
Answering every path also lets `bench_ratelimit --against-noop` point the rate-limit targets
here while the harness itself is being developed.

The standard health service is registered (SERVING) so readiness is checked the same way for
every target.

With `--redis-url`, each call first makes one Redis round trip (`PING`, redis-py asyncio with
hiredis, as the service uses): the ceiling of any design that asks Redis once per decision.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import grpc
import redis.asyncio as aioredis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

_HEALTH_PREFIX = "/grpc.health.v1.Health/"
_EMPTY = b""


async def _noop(request: bytes, context: Any) -> bytes:
    return _EMPTY


def _pinging(client: aioredis.Redis) -> Any:
    async def ping_then_answer(request: bytes, context: Any) -> bytes:
        await client.ping()
        return _EMPTY

    return ping_then_answer


class _AnyUnary(grpc.GenericRpcHandler):
    """Answers every unary call outside the health service with an empty message."""

    def __init__(self, behaviour: Any = _noop) -> None:
        # No (de)serializers: the request stays bytes and is never parsed.
        self._handler = grpc.unary_unary_rpc_method_handler(behaviour)

    def service(self, handler_call_details: Any) -> Any:
        method: str = handler_call_details.method
        if method.startswith(_HEALTH_PREFIX):
            return None
        return self._handler


async def serve(port: int, redis_url: str | None = None) -> None:
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    client = aioredis.Redis.from_url(redis_url, max_connections=64) if redis_url else None
    server.add_generic_rpc_handlers((_AnyUnary(_pinging(client) if client else _noop),))
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
    if client is not None:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", help="make one Redis round trip (PING) per call")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.redis_url))


if __name__ == "__main__":
    main()
