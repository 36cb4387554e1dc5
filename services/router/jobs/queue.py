"""Which job a worker should take next: a queue with consumers, acknowledgements and claims.

The shape is a Redis Stream consumer group's, so the in-process queue and the Redis one behave
alike. A delivery stays *pending* for the consumer that received it until it is acknowledged;
a worker acknowledges only after the job's result is committed in SQL. If the consumer dies,
its pending deliveries stay pending, and after `min_idle_ms` any other consumer may take them
over with `claim_stale` (Redis: XAUTOCLAIM). A live consumer calls `keep_alive` on the
deliveries it is still working on, so however slow a job is, nobody claims it while its worker
lives. Delivery is therefore at least once; the store's conditional UPDATEs make the result
exactly once.

`receive(..., block_ms=0)` never blocks (unlike Redis's BLOCK 0, which waits forever).

`InProcessJobQueue` serves the embedded mode: one process, several consumers (worker tasks),
idle times measured with an injected clock so tests move time by hand.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    job_id: str
    delivery_id: str
    """Opaque to the worker: the stream entry id on Redis; what `ack` names."""


class JobQueue(Protocol):
    async def enqueue(self, job_id: str) -> None: ...

    async def receive(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        """Up to `count` new deliveries for `consumer`, waiting up to `block_ms` for one."""
        ...

    async def ack(self, delivery: Delivery) -> None:
        """Done with it: it is never delivered again. Acknowledging twice is harmless."""
        ...

    async def claim_stale(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        """Takes over up to `count` deliveries left unacknowledged for `min_idle_ms` by any
        consumer (a crashed one, usually); they become pending for `consumer`, idle from now."""
        ...

    async def keep_alive(self, consumer: str, deliveries: Sequence[Delivery]) -> None:
        """Marks deliveries `consumer` is still working on idle from now, so no `claim_stale`
        takes them. Acknowledged ones are ignored."""
        ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class _Pending:
    job_id: str
    consumer: str
    delivered_at: float


class InProcessJobQueue:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ids = itertools.count(1)
        self._ready: deque[Delivery] = deque()
        self._pending: dict[str, _Pending] = {}
        self._arrived = asyncio.Condition()

    async def enqueue(self, job_id: str) -> None:
        async with self._arrived:
            self._ready.append(Delivery(job_id, f"{next(self._ids)}-0"))
            self._arrived.notify_all()

    async def receive(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        async with self._arrived:
            if not self._ready and block_ms > 0:
                try:
                    await asyncio.wait_for(self._arrived.wait(), block_ms / 1000)
                except TimeoutError:
                    return []
            taken = [self._ready.popleft() for _ in range(min(count, len(self._ready)))]
        for delivery in taken:
            self._pending[delivery.delivery_id] = _Pending(delivery.job_id, consumer, self._clock())
        return taken

    async def ack(self, delivery: Delivery) -> None:
        self._pending.pop(delivery.delivery_id, None)

    async def claim_stale(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        now = self._clock()
        claimed: list[Delivery] = []
        for delivery_id, pending in self._pending.items():
            if len(claimed) >= count:
                break
            if (now - pending.delivered_at) * 1000 >= min_idle_ms:
                pending.consumer, pending.delivered_at = consumer, now
                claimed.append(Delivery(pending.job_id, delivery_id))
        return claimed

    async def keep_alive(self, consumer: str, deliveries: Sequence[Delivery]) -> None:
        now = self._clock()
        for delivery in deliveries:
            pending = self._pending.get(delivery.delivery_id)
            if pending is not None:
                pending.consumer, pending.delivered_at = consumer, now

    def pending_count(self) -> int:
        """Deliveries received and not yet acknowledged (for tests and metrics)."""
        return len(self._pending)

    async def aclose(self) -> None:
        self._ready.clear()
        self._pending.clear()
