"""The router's connection pools (services/router/providers/sharded_transport.py), over real
loopback HTTP: a light load stays on the first pool's warm connections, a heavy one spreads over
every pool, a call counts until its body is closed, and the pools stay within the limits."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.router.providers.sharded_transport import ShardedTransport, shard_limits
from tests.router.upstreams.serving import serve_upstream


async def _echo(request: Request) -> JSONResponse:
    await asyncio.sleep(0.01)
    return JSONResponse({"path": request.url.path})


def test_the_pools_together_never_exceed_the_limits() -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    assert shard_limits(limits, 8).max_connections == 25
    assert shard_limits(limits, 8).max_keepalive_connections == 6
    few = ShardedTransport(httpx.Limits(max_connections=3, max_keepalive_connections=3))
    assert len(few.pools) == 3  # never more pools than connections allowed


async def test_calls_one_after_another_reuse_the_first_pools_connection() -> None:
    app = Starlette(routes=[Route("/v1/echo/{n}", _echo)])
    transport = ShardedTransport(httpx.Limits(max_connections=16, max_keepalive_connections=16))
    async with serve_upstream(app) as base, httpx.AsyncClient(transport=transport) as client:
        for n in range(20):
            assert (await client.get(f"{base}/echo/{n}")).status_code == 200
        async with client.stream("GET", f"{base}/echo/streamed") as response:
            assert transport.in_flight[0] == 1  # the body is not read yet
            await response.aread()
        opened = [len(pool._pool.connections) for pool in transport.pools]
    assert opened == [1, 0, 0, 0, 0, 0, 0, 0]
    assert transport.in_flight == [0] * 8


async def test_many_calls_at_once_spread_over_every_pool_and_all_answer() -> None:
    app = Starlette(routes=[Route("/v1/echo/{n}", _echo)])
    transport = ShardedTransport(httpx.Limits(max_connections=16, max_keepalive_connections=16))
    async with serve_upstream(app) as base, httpx.AsyncClient(transport=transport) as client:
        answers = await asyncio.gather(*(client.get(f"{base}/echo/{n}") for n in range(64)))
        used = [len(pool._pool.connections) for pool in transport.pools]
    assert transport.in_flight == [0] * 8
    assert sorted(a.json()["path"] for a in answers) == sorted(f"/v1/echo/{n}" for n in range(64))
    assert len(used) == 8
    assert all(0 < n <= 2 for n in used), used  # each pool opened its share, within its limit
