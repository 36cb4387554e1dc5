"""Reservations in Redis, shared by every replica: the semantics of `reservations`, each
operation one Lua script (Redis runs a script alone, so concurrent checks from any replica are
serialised and a hard budget is never over-reserved).

Keys, under a configurable prefix; a bucket is one budget's period (`bucket_key`):

    {prefix}seq                 the settlement sequence (the watermark)
    {prefix}floor               the newest seq pruned (an older watermark is STALE)
    {prefix}h|{request id}      a reservation (hash: amount, expires, its buckets)
    {prefix}b|{bucket}          hash: total (live), l:{rid} live amount, s:{rid} settled nanos,
                                w:{rid} settled at
    {prefix}l|{bucket}          zset of live request ids by expiry
    {prefix}s|{bucket}          zset of settled request ids by seq

Times come from the injected clock as arguments; Redis' own clock only drives EXPIRE, which is
housekeeping (a key outlives what it holds by a minute). A script only ever lengthens a key's
life (`extend`): a bucket holds other calls' live reservations, and a settlement or a short
reservation that set its own, shorter TTL would let Redis drop them while their calls still
run, and a hard budget would then admit past its limit. The scripts touch bucket keys named
inside a reservation, so the layout suits one Redis (or a primary with replicas), not Redis
Cluster. Lua compares numbers as doubles: amounts are exact up to 2^53 nanos (about 9 million
units of a currency per budget period), far above any budget we expect.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import redis.asyncio as aioredis

from services.cost.budgets.reservations import (
    DEFAULT_SETTLED_GRACE_SECONDS,
    Charge,
    ReservationOutcome,
    ReservationRequest,
    Verdict,
    bucket_key,
)

DEFAULT_KEY_PREFIX = "switchboard:cost:reservations:"
KEY_SLACK_SECONDS = 60.0
PRUNE_BATCH = 100
"""Settlements pruned per bucket per call at most, so no script runs long."""

_COMMON = """
local function extend(key, ms)
  if redis.call('PTTL', key) < tonumber(ms) then redis.call('PEXPIRE', key, ms) end
end

local function prune(b, l, s, now, horizon, floor_key)
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', l, '-inf', now)) do
    local amount = redis.call('HGET', b, 'l:' .. rid)
    if amount then
      redis.call('HINCRBY', b, 'total', -tonumber(amount))
      redis.call('HDEL', b, 'l:' .. rid)
    end
    redis.call('ZREM', l, rid)
  end
  for _ = 1, PRUNE_BATCH do
    local first = redis.call('ZRANGE', s, 0, 0, 'WITHSCORES')
    if #first == 0 then break end
    local rid = first[1]
    if tonumber(redis.call('HGET', b, 'w:' .. rid) or '0') >= horizon then break end
    redis.call('ZREM', s, rid)
    redis.call('HDEL', b, 's:' .. rid, 'w:' .. rid)
    if tonumber(first[2]) > tonumber(redis.call('GET', floor_key) or '0') then
      redis.call('SET', floor_key, first[2])
    end
  end
end

local function counted(b, s, watermark)
  local total = tonumber(redis.call('HGET', b, 'total') or '0')
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', s, '(' .. watermark, '+inf')) do
    total = total + tonumber(redis.call('HGET', b, 's:' .. rid) or '0')
  end
  return total
end

-- Ends a reservation; returns its expiry, or nil when there was none.
local function end_hold(h, rid, prefix)
  local hold = redis.call('HMGET', h, 'expires', 'buckets')
  if not hold[1] then return nil end
  for bucket in string.gmatch(hold[2], '[^ ]+') do
    local b = prefix .. 'b|' .. bucket
    redis.call('ZREM', prefix .. 'l|' .. bucket, rid)
    local amount = redis.call('HGET', b, 'l:' .. rid)
    if amount then
      redis.call('HINCRBY', b, 'total', -tonumber(amount))
      redis.call('HDEL', b, 'l:' .. rid)
    end
  end
  redis.call('DEL', h)
  return tonumber(hold[1])
end
""".replace("PRUNE_BATCH", str(PRUNE_BATCH))

# KEYS: hold, floor, then (b, l, s) per load. ARGV: rid, amount, now, expires, watermark,
# horizon, bucket ttl ms, hold ttl ms, buckets (space-separated), prefix, then (hard, spent,
# limit) per load. Reply: {code, amount, reserved per load}; code 1 admitted, 0 refused,
# 2 duplicate, 3 stale.
_RESERVE = (
    _COMMON
    + """
local rid, amount, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local watermark, horizon = ARGV[5], tonumber(ARGV[6])
local n = (#KEYS - 2) / 3
local reserved = {}
for i = 1, n do
  local b, l, s = KEYS[3 * i], KEYS[3 * i + 1], KEYS[3 * i + 2]
  prune(b, l, s, now, horizon, KEYS[2])
  reserved[i] = counted(b, s, watermark)
end
local held = redis.call('HMGET', KEYS[1], 'expires', 'amount')
if held[1] and tonumber(held[1]) > now then
  return {2, tonumber(held[2]), unpack(reserved)}
end
if held[1] then end_hold(KEYS[1], rid, ARGV[10]) end
if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(watermark) then
  return {3, 0, unpack(reserved)}
end
for i = 1, n do
  local base = 10 + 3 * (i - 1)
  local hard, spent, limit = ARGV[base + 1], tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  if hard == '1' and spent + reserved[i] + amount > limit then
    return {0, 0, unpack(reserved)}
  end
end
if amount > 0 and n > 0 then
  for i = 1, n do
    local b, l = KEYS[3 * i], KEYS[3 * i + 1]
    redis.call('ZADD', l, ARGV[4], rid)
    redis.call('HSET', b, 'l:' .. rid, amount)
    redis.call('HINCRBY', b, 'total', amount)
    extend(b, ARGV[7])
    extend(l, ARGV[7])
  end
  redis.call('HSET', KEYS[1], 'amount', amount, 'expires', ARGV[4], 'buckets', ARGV[9])
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
end
return {1, amount, unpack(reserved)}
"""
)

# KEYS: hold, seq, then (b, s) per charge. ARGV: rid, now, prefix, bucket ttl ms, then nanos
# per charge. Reply: 1 when a live reservation ended.
_SETTLE = (
    _COMMON
    + """
local rid, now = ARGV[1], tonumber(ARGV[2])
local expires = end_hold(KEYS[1], rid, ARGV[3])
local n = (#KEYS - 2) / 2
local seq = nil
for i = 1, n do
  local nanos = ARGV[4 + i]
  if nanos ~= '0' then
    seq = seq or redis.call('INCR', KEYS[2])
    local b, s = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
    redis.call('ZADD', s, seq, rid)
    redis.call('HSET', b, 's:' .. rid, nanos, 'w:' .. rid, ARGV[2])
    extend(b, ARGV[4])
    extend(s, ARGV[4])
  end
end
if expires and expires > now then return 1 end
return 0
"""
)

# KEYS: hold. ARGV: rid, now, prefix.
_RELEASE = (
    _COMMON
    + """
local expires = end_hold(KEYS[1], ARGV[1], ARGV[3])
if expires and expires > tonumber(ARGV[2]) then return 1 end
return 0
"""
)

# KEYS: b, l, s, floor. ARGV: now, horizon.
_RESERVED = (
    _COMMON
    + """
prune(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), KEYS[4])
return tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
"""
)


class RedisReservations:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        clock: Callable[[], float] = time.time,
        settled_grace_seconds: float = DEFAULT_SETTLED_GRACE_SECONDS,
    ) -> None:
        """A given client is not closed by `aclose` (its owner closes it)."""
        self._client = client
        self._prefix = key_prefix
        self._clock = clock
        self._grace = settled_grace_seconds
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._release = client.register_script(_RELEASE)
        self._reserved = client.register_script(_RESERVED)

    async def watermark(self) -> int:
        return int(await self._client.get(self._prefix + "seq") or 0)

    async def check_and_reserve(self, request: ReservationRequest) -> ReservationOutcome:
        now = self._clock()
        keys = [self._hold(request.request_id), self._prefix + "floor"]
        args: list[str | int | float] = [
            request.request_id,
            request.amount_nanos,
            repr(now),
            repr(now + request.ttl_seconds),
            request.watermark,
            repr(now - self._grace),
            _ms(request.ttl_seconds + self._grace + KEY_SLACK_SECONDS),
            _ms(request.ttl_seconds + KEY_SLACK_SECONDS),
            " ".join(load.key for load in request.loads),
            self._prefix,
        ]
        for load in request.loads:
            keys.extend(self._bucket_keys(load.key))
            budget = load.budget
            args.extend(("1" if budget.hard else "0", load.spent_nanos, budget.limit.nanos))
        reply = await self._reserve(keys=keys, args=args)
        return _outcome(request, [int(item) for item in reply])

    async def settle(self, request_id: str, charges: Sequence[Charge]) -> bool:
        keys = [self._hold(request_id), self._prefix + "seq"]
        args: list[str | int | float] = [
            request_id,
            repr(self._clock()),
            self._prefix,
            _ms(self._grace + KEY_SLACK_SECONDS),
        ]
        for charge in charges:
            bucket, _, settled = self._bucket_keys(charge.key)
            keys.extend((bucket, settled))
            args.append(charge.nanos)
        return bool(await self._settle(keys=keys, args=args))

    async def release(self, request_id: str) -> bool:
        args = [request_id, repr(self._clock()), self._prefix]
        return bool(await self._release(keys=[self._hold(request_id)], args=args))

    async def reserved_total(self, budget_id: str, period_start: datetime) -> int:
        now = self._clock()
        keys = [*self._bucket_keys(bucket_key(budget_id, period_start)), self._prefix + "floor"]
        return int(await self._reserved(keys=keys, args=[repr(now), repr(now - self._grace)]))

    async def aclose(self) -> None:
        return None

    def _hold(self, request_id: str) -> str:
        return f"{self._prefix}h|{request_id}"

    def _bucket_keys(self, bucket: str) -> tuple[str, str, str]:
        prefix = self._prefix
        return (f"{prefix}b|{bucket}", f"{prefix}l|{bucket}", f"{prefix}s|{bucket}")


def _outcome(request: ReservationRequest, reply: list[int]) -> ReservationOutcome:
    code, amount, reserved = reply[0], reply[1], reply[2:]
    if code == 1:
        return ReservationOutcome(Verdict.ADMITTED, amount, reserved)
    if code == 2:
        return ReservationOutcome(Verdict.DUPLICATE, amount, reserved)
    if code == 3:
        return ReservationOutcome(Verdict.STALE, 0, reserved)
    amount = request.amount_nanos
    refused = [
        i
        for i, load in enumerate(request.loads)
        if load.budget.hard and load.spent_nanos + reserved[i] + amount > load.budget.limit.nanos
    ]
    return ReservationOutcome(Verdict.REFUSED, 0, reserved, refused)


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)
