"""The Redis counter store, speaking exactly the reference server's commands.

One call is one non-transactional pipeline (shared with concurrent calls), a single round
trip: `INCRBY <key> <hits>` then `EXPIRE <key> <ttl>` for every key, the INCRBY replies at even
positions. The key format is
the reference's (`<prefix><domain>_<k1>_<v1>_..._<window start>`, built by `cache_key`), so
this service can share counters with envoyproxy/ratelimit instances on the same Redis during
a migration. `key_prefix` namespaces a deployment's keys (empty for byte-identical keys).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.envoy.counters import Increment
from services.ratelimit.redis_batch import Command, RedisBatcher

log = logging.getLogger(__name__)


class RedisCounterStore:
    """Fixed-window counters in Redis; the client is built elsewhere from settings.

    The commands of concurrent calls share one pipeline (`RedisBatcher`); each INCRBY is atomic
    on its own, exactly as in the reference's per-call pipeline.
    """

    def __init__(self, client: aioredis.Redis, *, key_prefix: str = "") -> None:
        self._batch = RedisBatcher(client)
        self._prefix = key_prefix

    async def increment(self, increments: Sequence[Increment]) -> list[int]:
        if not increments:
            return []
        commands: list[Command] = []
        for item in increments:
            key = self._prefix + item.key
            commands += [("INCRBY", key, item.hits), ("EXPIRE", key, item.ttl)]
        try:
            replies = await self._batch.execute(commands)
        except (RedisError, OSError, TimeoutError) as exc:
            # Connection and timeout errors are the usual case; any other Redis error (a
            # read-only replica, a key holding a non-integer) fails the call the same way, so
            # Envoy's failure_mode_deny decides what the request sees. The cause (which may
            # name hosts) goes to the log, not to the caller.
            log.warning("rate limit counter store failed: %s: %s", type(exc).__name__, exc)
            raise BackendUnavailable("the rate limit counter store (Redis) is unavailable") from exc
        return [int(reply) for reply in replies[::2]]
