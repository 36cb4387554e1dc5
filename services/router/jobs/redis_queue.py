"""The job queue across processes: a Redis Stream read by one consumer group.

Stream `{key_prefix}jobs`, group `router-workers`, one entry per job (`job_id=<id>`). Each worker
process reads with XREADGROUP under its own consumer name; Redis keeps every delivered entry in
the group's pending entries list until XACK, and XAUTOCLAIM hands a dead consumer's entries to a
live one once they have been idle long enough; a live worker keeps its own entries from looking
idle with XCLAIM ... JUSTID (which resets the idle time without counting a delivery). The group
is created on first use with MKSTREAM from id 0 (so jobs enqueued before any worker started are
not skipped); a BUSYGROUP answer means another process created it first. If the stream vanished
(a flushed Redis), the group is created again and the call retried once.

Acknowledged entries are deleted (XACK and XDEL in one MULTI): one group consumes the stream, so
an acknowledged entry is done, and the stream stays as long as the backlog, without trimming by
length, which could drop entries nobody has processed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from services.router.jobs.queue import Delivery

GROUP = "router-workers"
_FIELD = "job_id"
_MAX_CLAIM_ROUNDS = 10
"""XAUTOCLAIM scans a bounded slice of the pending list per call; a few rounds find enough."""

T = TypeVar("T")


class RedisJobQueue:
    def __init__(
        self, client: aioredis.Redis, *, key_prefix: str = "switchboard:router:", group: str = GROUP
    ) -> None:
        """The queue uses `client` and does not close it."""
        self._redis = client
        self.stream = f"{key_prefix}jobs"
        self.group = group
        self._group_ready = False

    async def enqueue(self, job_id: str) -> None:
        await self._ensure_group()
        await self._redis.xadd(self.stream, {_FIELD: job_id})

    async def receive(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        async def read() -> Any:
            return await self._redis.xreadgroup(
                self.group,
                consumer,
                {self.stream: ">"},
                count=count,
                block=block_ms if block_ms > 0 else None,
            )

        response = await self._with_group(read)
        return [
            delivery for _stream, entries in response or [] for delivery in _deliveries(entries)
        ]

    async def ack(self, delivery: Delivery) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, self.group, delivery.delivery_id)
            pipe.xdel(self.stream, delivery.delivery_id)
            await pipe.execute()

    async def claim_stale(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        claimed: list[Delivery] = []
        start = "0-0"
        for _ in range(_MAX_CLAIM_ROUNDS):
            start, found = await self._claim_round(
                consumer, min_idle_ms, count - len(claimed), start
            )
            claimed.extend(found)
            if len(claimed) >= count or start == "0-0":
                break
        return claimed

    async def keep_alive(self, consumer: str, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        ids: list[Any] = [delivery.delivery_id for delivery in deliveries]

        async def touch() -> Any:
            # Minimum idle 0: always resets. An id no longer pending (acknowledged) is ignored.
            return await self._redis.xclaim(self.stream, self.group, consumer, 0, ids, justid=True)

        await self._with_group(touch)

    async def pending_count(self) -> int:
        """Entries delivered and not yet acknowledged, for every consumer of the group."""
        summary = await self._with_group(lambda: self._redis.xpending(self.stream, self.group))
        return int(summary["pending"])

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the caller."""

    async def _claim_round(
        self, consumer: str, min_idle_ms: int, count: int, start: str
    ) -> tuple[str, list[Delivery]]:
        async def claim() -> Any:
            return await self._redis.xautoclaim(
                self.stream, self.group, consumer, min_idle_ms, start_id=start, count=count
            )

        response = await self._with_group(claim)
        # Entries deleted while pending come back as None (Redis 6.2) or in response[2] (7+).
        return _text(response[0]), _deliveries(response[1])

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _with_group(self, call: Callable[[], Awaitable[T]]) -> T:
        await self._ensure_group()
        try:
            return await call()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        self._group_ready = False
        await self._ensure_group()
        return await call()


def _deliveries(entries: Any) -> list[Delivery]:
    found = []
    for entry in entries or []:
        if entry is None or not entry[1]:  # deleted while pending (Redis 6.2 shapes)
            continue
        entry_id, fields = entry
        job_id = fields.get(_FIELD.encode(), fields.get(_FIELD))
        if job_id is not None:
            found.append(Delivery(_text(job_id), _text(entry_id)))
    return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
