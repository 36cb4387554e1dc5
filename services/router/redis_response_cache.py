"""The production response cache: completions in Redis, shared by every router replica.

One string per entry, `{key_prefix}cache:{key}`, holding `cache_codec`'s JSON and written with
`SET ... EX` (whole seconds) or `PX` (a fractional TTL, in milliseconds rounded up), so Redis
expires it. Nothing else is kept: no index, no LRU bookkeeping; Redis' `maxmemory-policy`
(`volatile-lru` or `allkeys-lru`) bounds the memory.

The cache must never fail a request: a Redis failure on `get` is a miss and on `put` is ignored.
Each failure is counted (`router_cache_errors_total`) and logged at most once per
`warn_interval_seconds`, so an outage does not flood the log. A value that does not decode
(corrupt, or written by another codec version) is a miss too.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.router.cache_codec import UndecodableValue, decode_completion, encode_completion
from services.router.chat import Completion
from services.router.response_cache import CacheMetrics

DEFAULT_KEY_PREFIX = "switchboard:router:"

log = logging.getLogger(__name__)


class RedisResponseCache:
    def __init__(
        self,
        client: aioredis.Redis,
        metrics: CacheMetrics,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        warn_interval_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._metrics = metrics
        self._prefix = f"{key_prefix}cache:"
        self._warn_interval = warn_interval_seconds
        self._clock = clock
        self._last_warning: float | None = None

    def redis_key(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key: str) -> Completion | None:
        try:
            data = await self._client.get(self.redis_key(key))
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            return None
        if data is None:
            return None
        try:
            return decode_completion(data.encode() if isinstance(data, str) else data)
        except UndecodableValue as exc:
            log.debug("response cache entry not decodable, treated as a miss: %s", exc)
            return None

    async def put(self, key: str, completion: Completion, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return
        value = encode_completion(completion)
        try:
            if float(ttl_seconds).is_integer():
                await self._client.set(self.redis_key(key), value, ex=int(ttl_seconds))
            else:
                px = math.ceil(ttl_seconds * 1000)
                await self._client.set(self.redis_key(key), value, px=px)
        except (RedisError, OSError) as exc:
            self._failed("put", exc)

    def _failed(self, operation: str, exc: BaseException) -> None:
        self._metrics.errors.labels(operation).inc()
        now = self._clock()
        if self._last_warning is None or now - self._last_warning >= self._warn_interval:
            self._last_warning = now
            # The exception names the error and the address, never a password.
            log.warning(
                "response cache unavailable (%s failed: %s: %s); serving without it",
                operation,
                type(exc).__name__,
                exc,
            )
