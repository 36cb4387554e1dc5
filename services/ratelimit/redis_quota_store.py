"""The production quota store: Redis, shared by every replica of the service.

Every decision is one Lua script (run by its SHA, batched with the scripts of concurrent calls
into one pipeline by `redis_batch`), and Redis runs a script alone, so replicas sharing one
Redis never admit more than a limit and never settle a reservation twice. Windows are the
limiter's: its injected clock picks the window, which is part of each counter's key, and times
reach the scripts as arguments; Redis' own clock only drives EXPIRE, which is housekeeping (a
counter expires when its window ends, a reservation when it can no longer be settled).

Keys, all under a configurable prefix (`|` cannot occur in a subject, so a subject's keys are
exactly those matching `{prefix}q|{subject}|*`):

    {prefix}q|{subject}|{model}|{rpd|rpm|tpm}|{window start}   a counter (model empty: all models)
    {prefix}r|{reservation id}                                  a reservation (hash)
    {prefix}o|{subject}                                         an override (JSON)
    {prefix}ov                                                  overrides version (INCR on change)

The scripts read counter keys named inside a reservation and the keys carry no hash tags, so the
layout suits one Redis (or a primary with replicas), not Redis Cluster. Connection failures and
timeouts raise `BackendUnavailable`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.limits import CounterKey, LimitKind
from services.ratelimit.overrides import Override
from services.ratelimit.quota_store import (
    Admission,
    Reservation,
    ReservationState,
    SettledReservation,
    Settlement,
)
from services.ratelimit.redis_batch import RedisBatcher

DEFAULT_KEY_PREFIX = "switchboard:ratelimit:"

log = logging.getLogger(__name__)

_KIND_CODES = {
    LimitKind.REQUESTS_PER_DAY: "rpd",
    LimitKind.REQUESTS_PER_MINUTE: "rpm",
    LimitKind.TOKENS_PER_MINUTE: "tpm",
}
_WINDOW_LENGTHS = {kind: kind.window_length for kind in LimitKind}

# Checks every counter, then counts all of them and records the reservation, or nothing.
# KEYS: the n counter keys, the reservation key, the overrides version key.
# ARGV[1] is what the reservation keeps for `_SETTLE` (the JSON list of
# [key, amount, window end, counts tokens]), stored as it is; ARGV[2..4] the reservation's
# tokens, expiry and TTL; then three per counter, in KEYS order: amount, limit, TTL.
# Flat arguments rather than JSON to decode, and EXPIRE only for a counter this call creates
# (a counter lives until its window ends, whoever created it): this runs for every check, in
# a Redis that shares the machine's cores. The admission rule is `limits.admits`:
# count + max(cost, 1) <= limit.
_ADMIT = """
local n = #KEYS - 2
local reply = {1, tonumber(redis.call('GET', KEYS[n + 2]) or '0')}
local created = {}
for i = 1, n do
  local value = redis.call('GET', KEYS[i])
  local count = tonumber(value or '0')
  local base = 3 * i + 2
  if count + math.max(tonumber(ARGV[base]), 1) > tonumber(ARGV[base + 1]) then
    reply[1] = 0
  end
  created[i] = not value
  reply[i + 2] = count
end
if reply[1] == 1 then
  for i = 1, n do
    local base = 3 * i + 2
    redis.call('INCRBY', KEYS[i], ARGV[base])
    if created[i] then
      redis.call('EXPIRE', KEYS[i], ARGV[base + 2])
    end
  end
  redis.call('HSET', KEYS[n + 1], 'state', 'reserved', 'charges', ARGV[1], 'tokens', ARGV[2],
             'expire', ARGV[3])
  redis.call('EXPIRE', KEYS[n + 1], ARGV[4])
end
return reply
"""

# Settles a reserved reservation (ARGV[1]: actual tokens, or '' to release) and adjusts the
# live counters it charged, never below 0; a settled one is returned as it is.
_SETTLE = """
local record = redis.call('HMGET', KEYS[1], 'state', 'tokens', 'actual', 'expire', 'charges')
local now = tonumber(ARGV[2])
if not record[1] or tonumber(record[4]) <= now then
  return false
end
if record[1] ~= 'reserved' then
  return {record[1], record[2], record[3] or ''}
end
local release = ARGV[1] == ''
for _, charge in ipairs(cjson.decode(record[5])) do
  local key, amount, window_end, is_tokens = charge[1], charge[2], charge[3], charge[4]
  local delta = 0
  if release then
    delta = -amount
  elseif is_tokens then
    delta = tonumber(ARGV[1]) - amount
  end
  if delta ~= 0 and window_end > now and redis.call('EXISTS', key) == 1 then
    if redis.call('INCRBY', key, string.format('%d', delta)) < 0 then
      redis.call('SET', key, '0', 'KEEPTTL')
    end
  end
end
local state = 'committed'
if release then
  state = 'released'
end
redis.call('HSET', KEYS[1], 'state', state, 'actual', ARGV[1], 'expire', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {state, record[2], ARGV[1]}
"""


class RedisQuotaStore:
    """`QuotaStore` on Redis; the client (`redis.asyncio.Redis`) is built and closed elsewhere."""

    def __init__(self, client: aioredis.Redis, *, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._client = client
        self._prefix = key_prefix
        self._version_key = f"{key_prefix}ov"
        self._batch = RedisBatcher(client, scripts=(_ADMIT, _SETTLE))

    async def admit(self, reservation: Reservation, now: float) -> Admission:
        # Plain arithmetic instead of Window objects, and flat arguments: this is the hot path.
        second = int(now)
        keys: list[str] = []
        kept: list[list[Any]] = []
        args: list[Any] = [
            "",
            reservation.tokens,
            repr(reservation.expire_time),
            _seconds(reservation.expire_time - now),
        ]
        for charge in reservation.charges:
            counter = charge.counter
            end = counter.window_start + _WINDOW_LENGTHS[counter.kind]
            key = self._counter_key(counter)
            keys.append(key)
            kept.append([key, charge.amount, end, counter.kind is LimitKind.TOKENS_PER_MINUTE])
            args += (charge.amount, charge.limit, end - second)
        args[0] = json.dumps(kept)
        keys += (self._reservation_key(reservation.id), self._version_key)
        with _backend_errors():
            reply = await self._batch.eval(_ADMIT, keys, args)
        return Admission(
            admitted=reply[0] == 1, counts=tuple(reply[2:]), overrides_version=reply[1]
        )

    async def counts(self, counters: Sequence[CounterKey], now: float) -> list[int]:
        if not counters:
            return []
        with _backend_errors():
            values = await self._client.mget([self._counter_key(c) for c in counters])
        return [int(value or 0) for value in values]

    async def settle(self, settlement: Settlement) -> SettledReservation | None:
        actual = "" if settlement.actual_tokens is None else str(settlement.actual_tokens)
        args: list[str | int] = [
            actual,
            repr(settlement.now),
            repr(settlement.remember_until),
            _seconds(settlement.remember_until - settlement.now),
        ]
        with _backend_errors():
            reply = await self._batch.eval(
                _SETTLE, [self._reservation_key(settlement.reservation_id)], args
            )
        if reply is None:
            return None
        state, reserved, actual_tokens = (_text(part) for part in reply)
        return SettledReservation(
            state=ReservationState(state),
            reserved_tokens=int(reserved),
            actual_tokens=int(actual_tokens) if actual_tokens else None,
        )

    async def reset(self, subject: str, now: float) -> int:
        pattern = f"{_glob_escape(self._prefix)}q|{subject}|*"
        deleted = 0
        with _backend_errors():
            batch: list[Any] = []
            async for key in self._client.scan_iter(match=pattern, count=500):
                batch.append(key)
                if len(batch) == 500:
                    deleted += await self._client.delete(*batch)
                    batch.clear()
            if batch:
                deleted += await self._client.delete(*batch)
        return deleted

    async def put_override(self, override: Override, now: float) -> None:
        expire = None if override.expire_time is None else _seconds(override.expire_time - now)
        payload = json.dumps(dataclasses.asdict(override))
        with _backend_errors():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self._override_key(override.subject), payload, ex=expire)
                pipe.incr(self._version_key)
                await pipe.execute()

    async def overrides(self, subjects: Sequence[str], now: float) -> list[Override | None]:
        # Through the batcher: cache misses on the hot path share round trips with the scripts.
        with _backend_errors():
            [values] = await self._batch.execute([("MGET", *map(self._override_key, subjects))])
        return [_live_override(value, now) for value in values]

    async def delete_override(self, subject: str, now: float) -> bool:
        with _backend_errors():
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.getdel(self._override_key(subject))
                pipe.incr(self._version_key)
                value, _ = await pipe.execute()
        return _live_override(value, now) is not None

    def _counter_key(self, counter: CounterKey) -> str:
        code = _KIND_CODES[counter.kind]
        return f"{self._prefix}q|{counter.subject}|{counter.model}|{code}|{counter.window_start}"

    def _reservation_key(self, reservation_id: str) -> str:
        return f"{self._prefix}r|{reservation_id}"

    def _override_key(self, subject: str) -> str:
        return f"{self._prefix}o|{subject}"


@contextmanager
def _backend_errors() -> Iterator[None]:
    """Turns Redis being unreachable or slow into the service's UNAVAILABLE error."""
    try:
        yield
    except (redis.exceptions.RedisError, OSError) as exc:
        # Unreachable or slow is the usual case; any other Redis failure (a read-only replica, a
        # Redis still loading after a restart) also means the store cannot answer now, so it
        # takes the failure mode rather than INTERNAL. The cause stays in the log (it may name
        # hosts); the caller gets the generic message.
        log.warning("quota store call failed: %s: %s", type(exc).__name__, exc)
        raise BackendUnavailable("the quota store (Redis) is unavailable") from exc


def _live_override(value: bytes | str | None, now: float) -> Override | None:
    if value is None:
        return None
    override = Override(**json.loads(value))
    return override if override.live(now) else None


def _seconds(duration: float) -> int:
    """A TTL for EXPIRE: whole seconds, at least one."""
    return max(1, math.ceil(duration))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob_escape(text: str) -> str:
    """Escapes Redis' glob characters so the key prefix matches itself only."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
