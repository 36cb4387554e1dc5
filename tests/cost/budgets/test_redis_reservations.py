"""What only the Redis store has: keys that expire. A bucket must outlive every live
reservation it holds, whatever settles or reserves in it meanwhile; otherwise Redis drops the
reservations of calls still running and a hard budget admits past its limit."""

from __future__ import annotations

import redis.asyncio as aioredis

from services.cost.budgets.redis_reservations import RedisReservations
from services.cost.budgets.reservations import Charge, ReservationRequest, Verdict

from .conftest import ONE_CALL, FakeClock, budget
from .test_reservations import START, loads

LONG_CALL_TTL = 600.0


async def reserve(store: RedisReservations, request_id: str, ttl: float) -> None:
    request = ReservationRequest(
        request_id, loads(budget()), ONE_CALL, ttl, await store.watermark()
    )
    assert (await store.check_and_reserve(request)).verdict is Verdict.ADMITTED


async def shortest_life_ms(client: aioredis.Redis, key_prefix: str) -> int:
    """The least time to live of the bucket's keys that hold live reservations: its hash and
    its set of live ids (the set of settled ids lives as long as settlements are kept)."""
    lives = [await client.pttl(key) async for key in client.scan_iter(match=f"{key_prefix}[bl]|*")]
    assert lives
    return min(lives)


async def test_a_settlement_does_not_shorten_the_life_of_other_live_reservations(
    redis_client: aioredis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    store = RedisReservations(redis_client, key_prefix=key_prefix, clock=clock)
    await reserve(store, "long-call", LONG_CALL_TTL)
    await reserve(store, "short-call", LONG_CALL_TTL)

    await store.settle("short-call", [Charge(budget().id, START, ONE_CALL)])

    assert await shortest_life_ms(redis_client, key_prefix) >= LONG_CALL_TTL * 1000
    assert await store.reserved_total(budget().id, START) == ONE_CALL


async def test_a_short_reservation_does_not_shorten_the_life_of_a_longer_one(
    redis_client: aioredis.Redis, key_prefix: str, clock: FakeClock
) -> None:
    store = RedisReservations(redis_client, key_prefix=key_prefix, clock=clock)
    await reserve(store, "long-call", LONG_CALL_TTL)

    await reserve(store, "quick-call", 1.0)

    assert await shortest_life_ms(redis_client, key_prefix) >= LONG_CALL_TTL * 1000
