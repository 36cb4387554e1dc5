"""The production usage sink: events appended to a Redis Stream, in batches, in the background.

The buffering, retries and shutdown are `BufferedUsageSink`'s. A batch is sent as
`XADD {stream} MAXLEN ~ {max_stream_length} * ...` commands in one pipeline (one round trip per
batch; under load batches grow to the backlog). The stream format is documented in
`usage_events`. `MAXLEN ~` keeps the stream bounded cheaply (Redis trims whole nodes, so the
length may exceed the cap a little); size the cap well above what the consumer can fall behind by.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from services.router.buffered_usage_sink import Backoff, BufferedUsageSink
from services.router.usage_events import UsageEvent, UsageMetrics

DEFAULT_KEY_PREFIX = "switchboard:router:"


def usage_stream(key_prefix: str = DEFAULT_KEY_PREFIX) -> str:
    """The stream's name under a key prefix: `{key_prefix}usage`."""
    return f"{key_prefix}usage"


@dataclass(frozen=True, slots=True)
class StreamSettings:
    stream: str = usage_stream()
    max_stream_length: int = 1_000_000
    """Approximate cap of the stream (`MAXLEN ~`)."""
    buffer_size: int = 100_000
    """Events kept in memory while Redis is slow or away; past it the oldest are dropped."""
    batch_size: int = 500

    def __post_init__(self) -> None:
        if min(self.max_stream_length, self.buffer_size, self.batch_size) < 1:
            raise ValueError("stream length, buffer size and batch size must be at least 1")


class RedisUsageSink(BufferedUsageSink):
    def __init__(
        self,
        client: aioredis.Redis,
        metrics: UsageMetrics,
        settings: StreamSettings = StreamSettings(),
        *,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        warn_interval_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            metrics,
            buffer_size=settings.buffer_size,
            batch_size=settings.batch_size,
            backoff=backoff or Backoff(),
            rng=rng,
            warn_interval_seconds=warn_interval_seconds,
            clock=clock,
        )
        self._client = client
        self._settings = settings

    @property
    def stream(self) -> str:
        return self._settings.stream

    async def _write(self, batch: list[UsageEvent]) -> int:
        settings = self._settings
        async with self._client.pipeline(transaction=False) as pipe:
            for event in batch:
                pipe.xadd(
                    settings.stream,
                    event.to_fields(),  # type: ignore[arg-type]  # dict[str, str] is what it takes
                    maxlen=settings.max_stream_length,
                    approximate=True,
                )
            await pipe.execute()
        return len(batch)
