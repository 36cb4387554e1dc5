"""Key lookup, cached in the process: most requests authenticate without touching the database.

Entries are keyed by the key's hash (`hashing`), so the cache holds no plaintext either.

- A successful lookup is kept `ttl_seconds` (30 s by default). A revocation made through this
  replica (`revoke`, or `forget` after revoking elsewhere in the process) takes effect at once;
  on other replicas it takes effect within the TTL, when their entry runs out. Disabling a
  tenant likewise (call `clear` here). A key that expires while cached stops at its expiry:
  hits are checked against the clock.
- A failed lookup (unknown, wrong secret, revoked, expired, disabled tenant) is kept
  `negative_ttl_seconds` (5 s): a client retrying a bad key, or a flood of one guessed key,
  costs one query per 5 s instead of one per request. Random guesses cannot be cached away
  (each has its own hash); with 256-bit secrets they cannot succeed, and throttling them per
  client is the rate limiter's job. Errors of the database itself are never cached.
- Concurrent lookups of one uncached key share one query (single flight), so a burst of
  requests with a new key does not stampede the database.
- At most `max_entries` entries, least recently used evicted first.

The clock is injected (epoch seconds): tests move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from gateway.keys.model import ApiKey, KeyState
from gateway.keys.store import Credential
from svckit.errors import PermissionDenied, ServiceError, Unauthenticated

REJECTIONS = (Unauthenticated, PermissionDenied)
"""The verdicts on a key worth remembering; anything else (the database down) is not one."""


class KeyLookup(Protocol):
    """What the cache sits in front of; `store.KeyStore` is one."""

    def credential(self, presented: str) -> Credential: ...

    async def verify(self, credential: Credential) -> ApiKey: ...

    async def revoke_key(self, key_id: str, *, tenant: str | None = None) -> ApiKey: ...


@dataclass(frozen=True)
class _Entry:
    until: float
    key: ApiKey | None = None
    rejection: ServiceError | None = None


class CachedKeyLookup:
    def __init__(
        self,
        store: KeyLookup,
        *,
        ttl_seconds: float = 30.0,
        negative_ttl_seconds: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._store = store
        self._ttl = ttl_seconds
        self._negative_ttl = negative_ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._digest_of: dict[str, str] = {}
        self._inflight: dict[str, asyncio.Task[ApiKey]] = {}
        self._epoch = 0
        """Bumped by `forget` and `clear`: a lookup that started before a revocation may have
        read the key before it was revoked, so its answer is not cached."""

    def __len__(self) -> int:
        return len(self._entries)

    async def authenticate(self, presented: str) -> ApiKey:
        credential = self._store.credential(presented)
        entry = self._fresh(credential.digest)
        if entry is None:
            return await self._load(credential)
        if entry.rejection is not None:
            raise _copy(entry.rejection)
        assert entry.key is not None
        return entry.key

    async def revoke(self, key_id: str, *, tenant: str | None = None) -> ApiKey:
        """Revokes in the store and forgets the key here: on this replica it stops at once."""
        key = await self._store.revoke_key(key_id, tenant=tenant)
        self.forget(key_id)
        return key

    def forget(self, key_id: str) -> None:
        self._epoch += 1
        self._inflight.clear()
        digest = self._digest_of.pop(key_id, None)
        if digest is not None:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        self._epoch += 1
        self._inflight.clear()
        self._entries.clear()
        self._digest_of.clear()

    def _fresh(self, digest: str) -> _Entry | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        now = self._clock()
        if entry.until <= now or _expired(entry.key, now):
            self._drop(digest)
            return None
        self._entries.move_to_end(digest)
        return entry

    async def _load(self, credential: Credential) -> ApiKey:
        """One query per digest at a time; the query runs in its own task, so a caller that
        is cancelled does not cancel it for the others waiting on it."""
        task = self._inflight.get(credential.digest)
        if task is None:
            task = asyncio.ensure_future(self._fetch(credential))
            self._inflight[credential.digest] = task
            task.add_done_callback(lambda done: self._settled(credential.digest, done))
        try:
            return await asyncio.shield(task)
        except REJECTIONS as rejection:
            raise _copy(rejection) from None

    async def _fetch(self, credential: Credential) -> ApiKey:
        epoch = self._epoch
        try:
            key = await self._store.verify(credential)
        except REJECTIONS as rejection:
            until = self._clock() + self._negative_ttl
            self._put(credential.digest, _Entry(until, None, rejection))
            raise
        if epoch != self._epoch:
            return key
        self._put(credential.digest, _Entry(self._clock() + self._ttl, key))
        self._digest_of[key.id] = credential.digest
        return key

    def _settled(self, digest: str, task: asyncio.Task[ApiKey]) -> None:
        if self._inflight.get(digest) is task:
            del self._inflight[digest]
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody awaited is not logged as lost

    def _put(self, digest: str, entry: _Entry) -> None:
        self._entries[digest] = entry
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            oldest, evicted = self._entries.popitem(last=False)
            self._unindex(oldest, evicted)

    def _drop(self, digest: str) -> None:
        entry = self._entries.pop(digest, None)
        if entry is not None:
            self._unindex(digest, entry)

    def _unindex(self, digest: str, entry: _Entry) -> None:
        if entry.key is not None and self._digest_of.get(entry.key.id) == digest:
            del self._digest_of[entry.key.id]


def _expired(key: ApiKey | None, now: float) -> bool:
    if key is None:
        return False
    return key.state(datetime.fromtimestamp(now, UTC)) is not KeyState.ACTIVE


def _copy(rejection: ServiceError) -> ServiceError:
    """A fresh exception per raise: one instance raised in many requests would pile up their
    tracebacks."""
    return type(rejection)(rejection.message, reason=rejection.reason, metadata=rejection.metadata)


__all__ = ["REJECTIONS", "CachedKeyLookup", "KeyLookup"]
