"""Several small connection pools behind one httpx client, used in turn.

httpcore's pool re-examines every queued request against every connection each time a request
arrives or a connection frees up, so its CPU cost per call grows with the calls in flight: at
64 in flight it was most of the router's own time per call (py-spy, `make bench-router`). `k`
pools of a `k`th of the calls each do about a `k`th of that work. Calls go to the pools in turn,
so each pool keeps its share of warm keep-alive connections, and the pools together never hold
more connections than the limits allow.
"""

from __future__ import annotations

import itertools

import httpx

SHARDS = 8


def shard_limits(limits: httpx.Limits, shards: int) -> httpx.Limits:
    """One pool's share of `limits` (at least one connection each; never more in total)."""
    per_pool = None if limits.max_connections is None else limits.max_connections // shards
    keepalive = limits.max_keepalive_connections
    return httpx.Limits(
        max_connections=per_pool,
        max_keepalive_connections=None if keepalive is None else max(1, keepalive // shards),
        keepalive_expiry=limits.keepalive_expiry,
    )


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, limits: httpx.Limits, *, shards: int = SHARDS, trust_env: bool = True):
        if limits.max_connections is not None:
            shards = max(1, min(shards, limits.max_connections))
        share = shard_limits(limits, shards)
        self.pools = [
            httpx.AsyncHTTPTransport(limits=share, trust_env=trust_env) for _ in range(shards)
        ]
        self._turn = itertools.cycle(self.pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._turn).handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


__all__ = ["SHARDS", "ShardedTransport", "shard_limits"]
