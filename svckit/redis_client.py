"""The pooled Redis client every service builds from its settings.

It fails fast, because a service must keep answering (per its failure mode) when Redis is
slow or gone: short socket and connect timeouts, one quick retry. The pool blocks (up to
`pool_timeout`) when every connection is busy instead of failing, so a burst of concurrent
calls queues for a connection rather than tripping a failure mode.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from svckit.health import Probe


def pooled_redis(
    url: str,
    *,
    timeout_seconds: float,
    pool_size: int = 64,
    pool_timeout_seconds: float = 2.0,
    socket_timeout_seconds: float | None = None,
) -> aioredis.Redis:
    """A client owning its pool (`aclose()` disconnects it).

    `socket_timeout_seconds` overrides the read timeout for clients that block on purpose
    (XREADGROUP BLOCK), which must wait longer than their block time.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=pool_timeout_seconds,
        socket_timeout=socket_timeout_seconds or timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.005), retries=1),
    )
    return aioredis.Redis.from_pool(pool)


def redis_probe(client: aioredis.Redis) -> Probe:
    """A readiness probe: Redis answers PING."""

    async def probe() -> bool:
        return bool(await client.ping())

    return probe
