"""The job queue, in process and on Redis: deliveries, acknowledgements and claims."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from services.router.jobs.queue import Delivery, InProcessJobQueue
from services.router.jobs.redis_queue import RedisJobQueue

from .conftest import QueueCase

IDLE_MS = 30
"""Short enough that the Redis case's real wait stays in the tens of milliseconds."""


async def enqueue_all(case: QueueCase, count: int) -> list[str]:
    ids = [f"job-{n}" for n in range(count)]
    for job_id in ids:
        await case.queue.enqueue(job_id)
    return ids


async def test_deliveries_come_in_enqueue_order(queue_case: QueueCase) -> None:
    ids = await enqueue_all(queue_case, 3)

    deliveries = await queue_case.queue.receive("a", count=10, block_ms=0)

    assert [d.job_id for d in deliveries] == ids
    assert len({d.delivery_id for d in deliveries}) == 3


async def test_receive_takes_at_most_count(queue_case: QueueCase) -> None:
    await enqueue_all(queue_case, 5)

    first = await queue_case.queue.receive("a", count=2, block_ms=0)
    rest = await queue_case.queue.receive("a", count=10, block_ms=0)

    assert [d.job_id for d in first] == ["job-0", "job-1"]
    assert [d.job_id for d in rest] == ["job-2", "job-3", "job-4"]


async def test_empty_queue_answers_nothing_without_and_with_blocking(
    queue_case: QueueCase,
) -> None:
    assert await queue_case.queue.receive("a", count=1, block_ms=0) == []
    assert await queue_case.queue.receive("a", count=1, block_ms=20) == []


async def test_blocked_receive_returns_when_a_job_arrives(queue_case: QueueCase) -> None:
    await queue_case.queue.receive("a", count=1, block_ms=0)  # creates the group on Redis
    waiting = asyncio.create_task(queue_case.queue.receive("a", count=1, block_ms=5000))
    await asyncio.sleep(0.01)

    await queue_case.queue.enqueue("late-job")

    assert [d.job_id for d in await waiting] == ["late-job"]


async def test_a_delivery_goes_to_one_consumer_only(queue_case: QueueCase) -> None:
    await enqueue_all(queue_case, 1)

    assert len(await queue_case.queue.receive("a", count=1, block_ms=0)) == 1
    assert await queue_case.queue.receive("b", count=1, block_ms=0) == []


async def test_unacknowledged_delivery_is_claimed_by_another_consumer_after_min_idle(
    queue_case: QueueCase,
) -> None:
    await enqueue_all(queue_case, 2)
    taken = await queue_case.queue.receive("crashed", count=2, block_ms=0)

    await queue_case.make_idle(IDLE_MS + 10)
    claimed = await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=10)

    assert claimed == taken


async def test_fresh_delivery_is_not_claimed(queue_case: QueueCase) -> None:
    await enqueue_all(queue_case, 1)
    await queue_case.queue.receive("a", count=1, block_ms=0)

    assert await queue_case.queue.claim_stale("b", min_idle_ms=60_000, count=10) == []


async def test_claimed_delivery_is_idle_again_from_the_claim(queue_case: QueueCase) -> None:
    await enqueue_all(queue_case, 1)
    await queue_case.queue.receive("crashed", count=1, block_ms=0)
    await queue_case.make_idle(IDLE_MS + 10)
    assert len(await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=10)) == 1

    assert await queue_case.queue.claim_stale("c", min_idle_ms=IDLE_MS, count=10) == []


async def test_acknowledged_delivery_is_never_claimed(queue_case: QueueCase) -> None:
    await enqueue_all(queue_case, 2)
    first, second = await queue_case.queue.receive("a", count=2, block_ms=0)
    await queue_case.queue.ack(first)
    await queue_case.queue.ack(first)  # twice is harmless

    await queue_case.make_idle(IDLE_MS + 10)
    claimed = await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=10)

    assert claimed == [second]


async def test_kept_alive_delivery_is_not_claimed_until_idle_again(queue_case: QueueCase) -> None:
    await queue_case.queue.enqueue("slow-job")
    deliveries = await queue_case.queue.receive("a", count=1, block_ms=0)
    await queue_case.make_idle(IDLE_MS + 10)

    await queue_case.queue.keep_alive("a", deliveries)

    assert await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=10) == []
    await queue_case.make_idle(IDLE_MS + 10)
    assert await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=10) == deliveries


async def test_keep_alive_of_an_acknowledged_delivery_does_nothing(queue_case: QueueCase) -> None:
    await queue_case.queue.enqueue("done-job")
    deliveries = await queue_case.queue.receive("a", count=1, block_ms=0)
    await queue_case.queue.ack(deliveries[0])

    await queue_case.queue.keep_alive("a", deliveries)

    await queue_case.make_idle(IDLE_MS + 10)
    assert await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=10) == []


async def test_claim_takes_at_most_count(queue_case: QueueCase) -> None:
    await enqueue_all(queue_case, 5)
    await queue_case.queue.receive("crashed", count=5, block_ms=0)
    await queue_case.make_idle(IDLE_MS + 10)

    first = await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=3)
    rest = await queue_case.queue.claim_stale("b", min_idle_ms=IDLE_MS, count=10)

    assert len(first) == 3
    assert sorted(d.job_id for d in first + rest) == [f"job-{n}" for n in range(5)]


async def test_concurrent_consumers_receive_each_job_exactly_once(queue_case: QueueCase) -> None:
    ids = await enqueue_all(queue_case, 200)

    async def consume(name: str) -> list[Delivery]:
        got: list[Delivery] = []
        while batch := await queue_case.queue.receive(name, count=7, block_ms=0):
            got.extend(batch)
            for delivery in batch:
                await queue_case.queue.ack(delivery)
        return got

    batches = await asyncio.gather(*(consume(f"c{n}") for n in range(5)))

    received = sorted(d.job_id for batch in batches for d in batch)
    assert received == sorted(ids)


async def test_redis_queues_on_one_stream_share_the_group(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    """The second process's group creation meets BUSYGROUP and carries on."""
    first = RedisJobQueue(redis_client, key_prefix=key_prefix)
    second = RedisJobQueue(redis_client, key_prefix=key_prefix)
    await first.enqueue("job-1")
    await second.enqueue("job-2")

    got = await second.receive("b", count=10, block_ms=0)

    assert [d.job_id for d in got] == ["job-1", "job-2"]
    assert await first.pending_count() == 2


async def test_redis_queue_recreates_a_vanished_group(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    queue = RedisJobQueue(redis_client, key_prefix=key_prefix)
    await queue.enqueue("job-1")
    await redis_client.delete(queue.stream)  # a flushed or restarted Redis

    assert await queue.receive("a", count=1, block_ms=0) == []
    assert await queue.claim_stale("a", min_idle_ms=0, count=1) == []
    await queue.enqueue("job-2")
    assert [d.job_id for d in await queue.receive("a", count=1, block_ms=0)] == ["job-2"]


async def test_redis_acknowledged_entries_leave_the_stream(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    queue = RedisJobQueue(redis_client, key_prefix=key_prefix)
    for n in range(3):
        await queue.enqueue(f"job-{n}")

    for delivery in await queue.receive("a", count=3, block_ms=0):
        await queue.ack(delivery)

    assert await redis_client.xlen(queue.stream) == 0
    assert await queue.pending_count() == 0


async def test_redis_claim_skips_entries_deleted_while_pending(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    queue = RedisJobQueue(redis_client, key_prefix=key_prefix)
    await queue.enqueue("job-1")
    await queue.enqueue("job-2")
    first, second = await queue.receive("crashed", count=2, block_ms=0)
    await redis_client.xdel(queue.stream, first.delivery_id)

    claimed = await queue.claim_stale("b", min_idle_ms=0, count=10)

    assert claimed == [second]


async def test_redis_errors_other_than_a_missing_group_are_raised(
    redis_client: aioredis.Redis, key_prefix: str
) -> None:
    queue = RedisJobQueue(redis_client, key_prefix=key_prefix)
    await redis_client.set(queue.stream, "not a stream")

    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await queue.enqueue("job-1")

    await redis_client.delete(queue.stream)
    await queue.enqueue("job-1")
    await redis_client.delete(queue.stream)
    await redis_client.set(queue.stream, "not a stream")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await queue.receive("a", count=1, block_ms=0)


async def test_in_process_queue_counts_pending_and_forgets_everything_on_close() -> None:
    queue = InProcessJobQueue()
    await queue.enqueue("job-1")
    await queue.enqueue("job-2")
    await queue.receive("a", count=1, block_ms=0)
    assert queue.pending_count() == 1

    await queue.aclose()

    assert queue.pending_count() == 0
    assert await queue.receive("a", count=1, block_ms=0) == []
