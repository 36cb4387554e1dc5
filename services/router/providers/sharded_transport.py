"""Several small connection pools behind one httpx client, filled in order.

httpcore's pool re-examines every queued request against every connection each time a request
arrives or a connection frees up, so its CPU cost per call grows with the calls in flight: at
64 in flight it was most of the router's own time per call (py-spy, `make bench-router`).

A call goes to the first pool with fewer than `PER_POOL` calls in flight (the least busy one
when all are full), so no pool's bookkeeping grows past that however many calls are in
flight. At a light load every call goes to the first pool and reuses its warm keep-alive
connections, as one pool would: spreading calls in turn instead would make each pool's
connections idle out between calls and cost a new TLS handshake per call. A call counts as in
flight until its response body is closed (streams included). The pools together never hold more
connections than the limits allow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx

SHARDS = 8
PER_POOL = 8
"""Calls in flight a pool takes before the next pool is used."""


def shard_limits(limits: httpx.Limits, shards: int) -> httpx.Limits:
    """One pool's share of `limits`: connections split so the pools never hold more in total
    (at least one each: callers use no more pools than connections); at least one keep-alive
    connection each."""
    per_pool = None if limits.max_connections is None else limits.max_connections // shards
    keepalive = limits.max_keepalive_connections
    return httpx.Limits(
        max_connections=per_pool,
        max_keepalive_connections=None if keepalive is None else max(1, keepalive // shards),
        keepalive_expiry=limits.keepalive_expiry,
    )


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self, limits: httpx.Limits, *, shards: int = SHARDS, trust_env: bool = True
    ) -> None:
        if limits.max_connections is not None:
            shards = max(1, min(shards, limits.max_connections))
        share = shard_limits(limits, shards)
        self.pools = [
            httpx.AsyncHTTPTransport(limits=share, trust_env=trust_env) for _ in range(shards)
        ]
        self.in_flight = [0] * shards

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self._pick()
        self.in_flight[index] += 1
        try:
            response = await self.pools[index].handle_async_request(request)
        except BaseException:
            self.in_flight[index] -= 1
            raise
        response.stream = _Counted(response.stream, lambda: self._done(index))
        return response

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()

    def _pick(self) -> int:
        for index, calls in enumerate(self.in_flight):
            if calls < PER_POOL:
                return index
        return min(range(len(self.pools)), key=self.in_flight.__getitem__)

    def _done(self, index: int) -> None:
        self.in_flight[index] -= 1


class _Counted(httpx.AsyncByteStream):
    """A response body that reports, once, that it was closed."""

    def __init__(
        self, stream: httpx.AsyncByteStream | httpx.SyncByteStream, done: Callable[[], None]
    ) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream = stream
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


__all__ = ["PER_POOL", "SHARDS", "ShardedTransport", "shard_limits"]
