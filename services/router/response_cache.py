"""The router's response cache: which requests may be answered from it, and for how long.

An exact-match cache: the key (`cache_key`) is a digest of the normalized request, so only the
very same question (same model, messages, tools and sampling, same tenant unless entries are
shared) gets the stored answer. `RouterCache` is what the router calls; it combines:

- a `ResponseCache` backend (`MemoryResponseCache`, an LRU, or `RedisResponseCache`), a plain
  key-value store with a TTL that never raises: a failing backend is a miss, never a failed call;
- a `CachePolicy`, which decides per request:
  - Only deterministic requests are cached by default, temperature exactly 0. An unset
    temperature is not deterministic: providers default it to 1. A caller may opt in for any
    request with `allow_nondeterministic` (for example to pin one sampled answer for a demo).
  - `no_cache` skips the lookup (the fresh answer is still stored), `no_store` skips storing.
  - The TTL is the caller's, capped at `max_ttl_seconds`, else `default_ttl_seconds`; a TTL of
    zero or less stores nothing.
  - Only whole answers are stored: every choice finished with "stop", "length" or "tool_calls",
    never "content_filter" or an error;
- `CacheMetrics`: `router_cache_requests_total{result="hit"|"miss"|"skip"}` (skip: the policy
  did not allow a lookup) and `router_cache_errors_total{operation="get"|"put"}`.

A cache hit costs no upstream call: the router reports it with `cache_hit` set, no deployment,
and a usage event at zero upstream tokens (see `usage_events`). A hit for a streaming request is
replayed with `replay_as_stream`; `assemble_stream` is its inverse, which also turns a streamed
upstream answer into the `Completion` to store.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

from services.router.cache_key import cache_key
from services.router.chat import (
    ChatRequest,
    Choice,
    ChoiceDelta,
    Completion,
    Message,
    StreamChunk,
)

log = logging.getLogger(__name__)

CACHEABLE_FINISH_REASONS = frozenset({"stop", "length", "tool_calls"})


class ResponseCache(Protocol):
    """A key-value store of completions with a TTL. Neither method raises on a backend failure:
    `get` answers None and `put` does nothing (and the backend counts the error)."""

    async def get(self, key: str) -> Completion | None: ...

    async def put(self, key: str, completion: Completion, ttl_seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class CachePolicy:
    default_ttl_seconds: float = 3600.0
    max_ttl_seconds: float = 86400.0
    shared_across_tenants: bool = False
    """True: tenants share entries (a question asked by two tenants is answered once)."""
    cacheable_finish_reasons: frozenset[str] = field(default=CACHEABLE_FINISH_REASONS)

    def __post_init__(self) -> None:
        if not 0 < self.default_ttl_seconds <= self.max_ttl_seconds:
            raise ValueError("need 0 < default_ttl_seconds <= max_ttl_seconds")

    def key(self, request: ChatRequest) -> str:
        return cache_key(request, tenant_scoped=not self.shared_across_tenants)

    def cacheable(self, request: ChatRequest) -> bool:
        """Deterministic (temperature 0), or the caller accepts a stored sampled answer."""
        return request.sampling.temperature == 0 or request.cache.allow_nondeterministic

    def lookup_allowed(self, request: ChatRequest) -> bool:
        return self.cacheable(request) and not request.cache.no_cache

    def store_allowed(self, request: ChatRequest) -> bool:
        return self.cacheable(request) and not request.cache.no_store and self.ttl(request) > 0

    def ttl(self, request: ChatRequest) -> float:
        asked = request.cache.ttl_seconds
        return self.default_ttl_seconds if asked is None else min(asked, self.max_ttl_seconds)

    def storable(self, completion: Completion) -> bool:
        """A whole answer: at least one choice, and each ended in a cacheable way."""
        reasons = {choice.finish_reason for choice in completion.choices}
        return bool(reasons) and reasons <= self.cacheable_finish_reasons


class CacheMetrics:
    """Counters of the cache on one registry; label values are fixed, so cardinality is too."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "router_cache_requests_total",
            "Response cache lookups by result: hit, miss, or skip (the policy allowed none).",
            ("result",),
            registry=registry,
        )
        self.errors = Counter(
            "router_cache_errors_total",
            "Response cache backend failures, treated as a miss (get) or ignored (put).",
            ("operation",),
            registry=registry,
        )


class RouterCache:
    """The cache as the router uses it: policy, backend and counters together; never raises."""

    def __init__(self, backend: ResponseCache, policy: CachePolicy, metrics: CacheMetrics) -> None:
        self._backend = backend
        self._policy = policy
        self._metrics = metrics

    @property
    def policy(self) -> CachePolicy:
        return self._policy

    async def lookup(self, request: ChatRequest) -> Completion | None:
        """The stored answer to `request`, or None (not allowed, not stored, or unavailable)."""
        if not self._policy.lookup_allowed(request):
            self._metrics.requests.labels("skip").inc()
            return None
        try:
            completion = await self._backend.get(self._policy.key(request))
        except Exception:  # a backend bug must not fail the call either
            log.exception("response cache lookup failed")
            self._metrics.errors.labels("get").inc()
            completion = None
        self._metrics.requests.labels("miss" if completion is None else "hit").inc()
        return completion

    async def store(self, request: ChatRequest, completion: Completion) -> bool:
        """Store `completion` as the answer to `request` if the policy allows; True if it did."""
        if not (self._policy.store_allowed(request) and self._policy.storable(completion)):
            return False
        try:
            await self._backend.put(
                self._policy.key(request), completion, self._policy.ttl(request)
            )
        except Exception:
            log.exception("response cache store failed")
            self._metrics.errors.labels("put").inc()
            return False
        return True


REPLAY_PIECE_CHARS = 20
"""Replayed content comes in pieces of about this many characters, broken between words."""

_WORD = re.compile(r"\S*\s*")


def replay_as_stream(completion: Completion) -> list[StreamChunk]:
    """The stream a provider could have sent for `completion`: per choice a role chunk, its
    content in pieces, its tool calls, its finish reason; then one chunk with the usage.
    `assemble_stream` of the result equals `completion`."""
    chunks: list[StreamChunk] = []
    for choice in completion.choices:
        deltas = _choice_deltas(choice)
        chunks.extend(
            StreamChunk(
                id=completion.id, choices=(delta,), upstream_model=completion.upstream_model
            )
            for delta in deltas
        )
    chunks.append(
        StreamChunk(
            id=completion.id, usage=completion.usage, upstream_model=completion.upstream_model
        )
    )
    return chunks


def _choice_deltas(choice: Choice) -> list[ChoiceDelta]:
    message = choice.message
    first = Message(role=message.role, name=message.name, tool_call_id=message.tool_call_id)
    deltas = [ChoiceDelta(choice.index, first)]
    for piece in content_pieces(message.content):
        deltas.append(ChoiceDelta(choice.index, Message(role="", content=piece)))
    for call in message.tool_calls:
        deltas.append(ChoiceDelta(choice.index, Message(role="", tool_calls=(call,))))
    deltas.append(ChoiceDelta(choice.index, Message(role=""), finish_reason=choice.finish_reason))
    return deltas


def content_pieces(content: str, size: int = REPLAY_PIECE_CHARS) -> list[str]:
    """`content` cut between words into pieces of at least `size` characters (the last may be
    shorter); joined they are `content` exactly, whitespace included."""
    pieces: list[str] = []
    current = ""
    for word in _WORD.findall(content):
        current += word
        if len(current) >= size:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces
