"""The production breaker store: Redis, shared by every router replica.

All of one deployment's breaker lives in one hash, `{key_prefix}cb:{deployment}`, and each
operation is one Lua script run by its SHA (redis-py's `register_script`, which loads it again
after a Redis restart). Redis runs a script alone, so replicas agree exactly: one opens the
breaker, and no more than `half_open_max_probes` of any number of concurrent acquirers get a
probe. One key per deployment also suits Redis Cluster.

Hash fields (a missing hash is a CLOSED breaker in epoch 0):

    st          closed | open | half_open
    ep          epoch, incremented by every transition (stale permits are ignored)
    ra          OPEN: end of the cool-down
    cf          CLOSED: consecutive failures
    c:{i} f:{i} CLOSED: calls and failures in window bucket i = floor(now / bucket seconds)
    ok          HALF_OPEN: probe successes
    ps          HALF_OPEN: last probe id issued
    p:{id}      HALF_OPEN: expiry of a probe in flight

The scripts mirror `MemoryBreakerStore` step for step; times arrive from the caller's clock as
arguments, and floats are written with 17 significant digits so they come back exact. Redis'
own clock only drives EXPIRE: a hash untouched for `idle_ttl_seconds` (never less than the
policy's longest duration) disappears, which is a CLOSED breaker again.

Connection errors and timeouts (each operation is bounded by `timeout_seconds`, whatever the
client's own retries) raise `BreakerStoreUnavailable`, which `CircuitBreakers` turns into
letting the call through.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
import redis.exceptions

from services.router.breaker import (
    BreakerPolicy,
    BreakerSnapshot,
    BreakerState,
    BreakerStoreUnavailable,
    Permit,
    StoreResult,
)

DEFAULT_KEY_PREFIX = "switchboard:router:"

T = TypeVar("T")

_COMMON = """
local function fmt(x)
  return string.format('%.17g', x)
end

-- The number of unexpired probes and the earliest expiry; `prune` deletes expired ones.
local function live_probes(key, now, prune)
  local all = redis.call('HGETALL', key)
  local live, earliest = 0, nil
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'p:' then
      local expiry = tonumber(all[i + 1])
      if expiry > now then
        live = live + 1
        if earliest == nil or expiry < earliest then
          earliest = expiry
        end
      elseif prune then
        redis.call('HDEL', key, all[i])
      end
    end
  end
  return live, earliest
end

-- {state, epoch, retry_at or ''}, as BreakerSnapshot describes them.
local function describe(key, now, max_probes)
  local f = redis.call('HMGET', key, 'st', 'ep', 'ra')
  local state = f[1] or 'closed'
  local retry_at = ''
  if state == 'open' then
    retry_at = f[3]
  elseif state == 'half_open' then
    local live, earliest = live_probes(key, now, false)
    if live >= max_probes then
      retry_at = fmt(earliest)
    end
  end
  return {state, tonumber(f[2] or '0'), retry_at}
end

-- A new epoch in `state`, with nothing left from the last one.
local function move_to(key, state, epoch, now, open_seconds)
  redis.call('DEL', key)
  if state == 'open' then
    redis.call('HSET', key, 'st', state, 'ep', epoch + 1, 'ra', fmt(now + open_seconds))
  else
    redis.call('HSET', key, 'st', state, 'ep', epoch + 1)
  end
end
"""

# ARGV: now, max probes, probe timeout, ttl.
# Returns {state, epoch, retry_at or '', probe id or '', moved (0/1)}.
_ACQUIRE = (
    _COMMON
    + """
local key, now, max_probes = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local f = redis.call('HMGET', key, 'st', 'ep', 'ra')
local state, epoch, moved = f[1] or 'closed', tonumber(f[2] or '0'), 0
if state == 'closed' then
  if f[1] then
    redis.call('EXPIRE', key, ARGV[4])
  end
  return {state, epoch, '', '', 0}
end
if state == 'open' then
  if now < tonumber(f[3]) then
    return {state, epoch, f[3], '', 0}
  end
  move_to(key, 'half_open', epoch, now, 0)
  state, epoch, moved = 'half_open', epoch + 1, 1
end
local live, earliest = live_probes(key, now, true)
local probe = ''
if live < max_probes then
  local expiry = now + tonumber(ARGV[3])
  probe = tostring(redis.call('HINCRBY', key, 'ps', 1))
  redis.call('HSET', key, 'p:' .. probe, fmt(expiry))
  live = live + 1
  if earliest == nil or expiry < earliest then
    earliest = expiry
  end
end
local retry_at = ''
if live >= max_probes then
  retry_at = fmt(earliest)
end
redis.call('EXPIRE', key, ARGV[4])
return {state, epoch, retry_at, probe, moved}
"""
)

# ARGV: now, success (1/0), permit epoch, probe id or '', bucket seconds, window buckets,
# min calls, failure rate threshold, consecutive failures, open seconds, half-open successes,
# max probes, ttl. Returns as _ACQUIRE does (never a probe id).
_RECORD = (
    _COMMON
    + """
local function count_call(key, now, success, epoch)
  local bucket = math.floor(now / tonumber(ARGV[5]))
  local oldest = bucket - tonumber(ARGV[6]) + 1
  redis.call('HINCRBY', key, 'c:' .. bucket, 1)
  local streak = 0
  if success then
    redis.call('HSET', key, 'cf', 0)
  else
    redis.call('HINCRBY', key, 'f:' .. bucket, 1)
    streak = redis.call('HINCRBY', key, 'cf', 1)
  end
  local all = redis.call('HGETALL', key)
  local calls, failures = 0, 0
  for i = 1, #all, 2 do
    local kind = string.sub(all[i], 1, 2)
    if kind == 'c:' or kind == 'f:' then
      if tonumber(string.sub(all[i], 3)) < oldest then
        redis.call('HDEL', key, all[i])
      elseif kind == 'c:' then
        calls = calls + tonumber(all[i + 1])
      else
        failures = failures + tonumber(all[i + 1])
      end
    end
  end
  local by_rate = calls >= tonumber(ARGV[7]) and failures >= tonumber(ARGV[8]) * calls
  if by_rate or streak >= tonumber(ARGV[9]) then
    move_to(key, 'open', epoch, now, tonumber(ARGV[10]))
    return 1
  end
  return 0
end

local function count_probe(key, now, success, epoch)
  local field = 'p:' .. ARGV[4]
  local expiry = redis.call('HGET', key, field)
  if not expiry then
    return 0
  end
  redis.call('HDEL', key, field)
  if tonumber(expiry) <= now then
    return 0
  end
  if not success then
    move_to(key, 'open', epoch, now, tonumber(ARGV[10]))
    return 1
  end
  if redis.call('HINCRBY', key, 'ok', 1) >= tonumber(ARGV[11]) then
    move_to(key, 'closed', epoch, now, 0)
    return 1
  end
  return 0
end

local key, now, success = KEYS[1], tonumber(ARGV[1]), ARGV[2] == '1'
local f = redis.call('HMGET', key, 'st', 'ep')
local state, epoch, moved = f[1] or 'closed', tonumber(f[2] or '0'), 0
if tonumber(ARGV[3]) == epoch then
  if state == 'closed' then
    moved = count_call(key, now, success, epoch)
  elseif state == 'half_open' and ARGV[4] ~= '' then
    moved = count_probe(key, now, success, epoch)
  end
end
if redis.call('EXISTS', key) == 1 then
  redis.call('EXPIRE', key, ARGV[13])
end
local s = describe(key, now, tonumber(ARGV[12]))
return {s[1], s[2], s[3], '', moved}
"""
)

# ARGV: now, permit epoch, probe id or '', max probes. Returns as _ACQUIRE does (never a probe
# id, never moved): a released permit frees its probe slot and changes nothing else.
_RELEASE = (
    _COMMON
    + """
local key, now = KEYS[1], tonumber(ARGV[1])
local f = redis.call('HMGET', key, 'st', 'ep')
local current = f[1] == 'half_open' and tonumber(f[2] or '0') == tonumber(ARGV[2])
if current and ARGV[3] ~= '' then
  redis.call('HDEL', key, 'p:' .. ARGV[3])
end
local s = describe(key, now, tonumber(ARGV[4]))
return {s[1], s[2], s[3], '', 0}
"""
)

# ARGV: now, max probes. Returns {state, epoch, retry_at or ''}; changes nothing.
_SNAPSHOT = (
    _COMMON
    + """
return describe(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
"""
)

_STATES = {state.label: state for state in BreakerState}


class RedisBreakerStore:
    """`BreakerStore` on Redis; the client (`redis.asyncio.Redis`) is built and closed elsewhere."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        idle_ttl_seconds: float = 86_400.0,
        timeout_seconds: float = 0.5,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._idle_ttl = idle_ttl_seconds
        self._timeout = timeout_seconds
        self._acquire = client.register_script(_ACQUIRE)
        self._record = client.register_script(_RECORD)
        self._release = client.register_script(_RELEASE)
        self._snapshot = client.register_script(_SNAPSHOT)

    def key(self, deployment: str) -> str:
        return f"{self._prefix}cb:{deployment}"

    async def acquire(self, deployment: str, policy: BreakerPolicy, now: float) -> StoreResult:
        args: list[str | int] = [
            repr(now),
            policy.half_open_max_probes,
            repr(policy.probe_timeout_seconds),
            self._ttl(policy),
        ]
        reply = await self._run(lambda: self._acquire(keys=[self.key(deployment)], args=args))
        return _result(deployment, reply, grants=True)

    async def record(
        self, permit: Permit, success: bool, policy: BreakerPolicy, now: float
    ) -> StoreResult:
        args: list[str | int] = [
            repr(now),
            1 if success else 0,
            permit.epoch,
            "" if permit.probe_id is None else permit.probe_id,
            repr(policy.bucket_seconds),
            policy.window_buckets,
            policy.min_calls,
            repr(policy.failure_rate_threshold),
            policy.consecutive_failures,
            repr(policy.open_seconds),
            policy.half_open_successes,
            policy.half_open_max_probes,
            self._ttl(policy),
        ]
        reply = await self._run(lambda: self._record(keys=[self.key(permit.deployment)], args=args))
        return _result(permit.deployment, reply, grants=False)

    async def release(self, permit: Permit, policy: BreakerPolicy, now: float) -> StoreResult:
        args: list[str | int] = [
            repr(now),
            permit.epoch,
            "" if permit.probe_id is None else permit.probe_id,
            policy.half_open_max_probes,
        ]
        key = self.key(permit.deployment)
        reply = await self._run(lambda: self._release(keys=[key], args=args))
        return _result(permit.deployment, reply, grants=False)

    async def snapshots(
        self, deployments: Sequence[str], policy: BreakerPolicy, now: float
    ) -> dict[str, BreakerSnapshot]:
        async def read_all() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for name in deployments:
                    args: list[str | int] = [repr(now), policy.half_open_max_probes]
                    await self._snapshot(keys=[self.key(name)], args=args, client=pipe)
                return await pipe.execute()

        replies = await self._run(read_all)
        return {name: _snapshot(reply) for name, reply in zip(deployments, replies, strict=True)}

    def _ttl(self, policy: BreakerPolicy) -> int:
        return math.ceil(max(self._idle_ttl, policy.longest_seconds + 1))

    async def _run(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await operation()
        except (redis.exceptions.RedisError, OSError) as exc:
            # TimeoutError is an OSError; neither message carries the URL's password.
            raise BreakerStoreUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc


def _snapshot(reply: Sequence[Any]) -> BreakerSnapshot:
    retry_at = _text(reply[2])
    return BreakerSnapshot(_STATES[_text(reply[0])], float(retry_at) if retry_at else None)


def _result(deployment: str, reply: Sequence[Any], *, grants: bool) -> StoreResult:
    snapshot = _snapshot(reply)
    probe = _text(reply[3])
    permit = None
    if grants and (snapshot.state is BreakerState.CLOSED or probe):
        permit = Permit(deployment, int(reply[1]), probe_id=int(probe) if probe else None)
    return StoreResult(snapshot, permit, transitioned=bool(reply[4]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
