"""One usage event per completed call, for the cost service, off the response's critical path.

Every call the router completes (a success, an error, a cancelled stream, a cache hit) emits
exactly one `UsageEvent` to a `UsageSink`. Emitting is synchronous, never blocks and never
raises: the sink buffers, and delivers in the background (`RedisUsageSink`) or hands events to
an in-process consumer (`MemoryUsageSink`, the embedded mode). A sink that cannot keep up drops
the oldest events and counts them; it never slows a response down.

A cache hit costs no upstream call, and its event says so: `cache_hit` is true, deployment and
provider are empty and the token counts are zero (they count upstream tokens, which are what
is paid for). `UsageEvent` refuses a cache hit with tokens, so nobody can charge one by mistake.

Stream format (Redis; schema 1). The stream is `{key_prefix}usage` (configurable), trimmed with
`XADD ... MAXLEN ~ N`. Each entry is one event as flat string fields (`to_fields`):

    schema          "1"; a consumer skips (and reports) an entry of a schema it does not know
    request_id      unique per call; the idempotency key: delivery is at least once (a write
                    whose reply was lost is retried), so the consumer dedupes on it
    occurred_at     unix seconds, decimal ("1736164800.25"), when the call completed
    tenant, subject, endpoint, model (the public name), deployment, provider, upstream_model
    input_tokens, output_tokens, cached_tokens   decimal integers; cached_tokens is the part of
                    input_tokens the provider served from its prompt cache
    cache_write_tokens   decimal integer: input tokens written to the provider's prompt cache,
                    not a part of input_tokens (priced on their own); "0" when missing, as in
                    entries written before it was added
    latency_ms      decimal integer
    outcome         "success" | "error" | "cancelled"
    cache_hit, streamed   "1" or "0"
    prompt_name     "" when the call used no stored prompt
    prompt_version  decimal integer, 0 with no prompt
    flag_variants   JSON object of flag key to variant ("{}" when none)
    error_reason    "" unless outcome is "error" (a reason code like UPSTREAM_TIMEOUT)
    user, api_key_id   the user and API key behind the call, "" when the caller gave none

The cost service reads it with a consumer group (`XREADGROUP`, `XACK` once the ledger has the
event) and rebuilds each event with `UsageEvent.from_fields`. Fields may be added within a schema
(`from_fields` ignores unknown ones and defaults missing optional ones); removing or changing the
meaning of one takes a new schema number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter

SCHEMA_VERSION = 1

EntryFields = Mapping[str, str] | Mapping[bytes, bytes] | Mapping[str | bytes, str | bytes]
"""A stream entry's fields, as redis-py returns them (bytes, or str with decode_responses)."""

OUTCOMES = frozenset({"success", "error", "cancelled"})


@dataclass(frozen=True, slots=True)
class UsageEvent:
    request_id: str
    occurred_at: float
    """Unix seconds when the call completed."""
    tenant: str
    subject: str
    endpoint: str
    model: str
    """The public model name the caller asked for."""
    deployment: str
    provider: str
    upstream_model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    latency_ms: int
    outcome: str
    cache_write_tokens: int = 0
    """Input tokens written to the provider's prompt cache; not a part of `input_tokens`."""
    cache_hit: bool = False
    streamed: bool = False
    prompt_name: str = ""
    prompt_version: int = 0
    flag_variants: Mapping[str, str] = field(default_factory=dict)
    error_reason: str = ""
    user: str = ""
    api_key_id: str = ""

    def __post_init__(self) -> None:
        if not self.request_id:
            raise ValueError("a usage event needs a request id")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}, not {self.outcome!r}")
        counts = (
            self.input_tokens,
            self.output_tokens,
            self.cached_tokens,
            self.cache_write_tokens,
        )
        if min(*counts, self.latency_ms) < 0:
            raise ValueError("token counts and latency cannot be negative")
        if self.cache_hit and any(counts):
            raise ValueError("a cache hit used no upstream tokens: record it with zero tokens")

    def to_fields(self) -> dict[str, str]:
        """Flat string fields for XADD (see the module docstring)."""
        result = {"schema": str(SCHEMA_VERSION)}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "flag_variants":
                result[item.name] = json.dumps(dict(value), sort_keys=True, ensure_ascii=False)
            elif isinstance(value, bool):
                result[item.name] = "1" if value else "0"
            else:
                result[item.name] = repr(value) if isinstance(value, float) else str(value)
        return result

    @classmethod
    def from_fields(cls, raw: EntryFields) -> UsageEvent:
        """The event `to_fields` wrote, from a stream entry (str or bytes, as the client gives);
        ValueError for an unknown schema or a malformed entry."""
        entry = {_text(key): _text(value) for key, value in raw.items()}
        if entry.get("schema") != str(SCHEMA_VERSION):
            raise ValueError(f"unknown usage event schema {entry.get('schema')!r}")
        try:
            return cls(
                request_id=entry["request_id"],
                occurred_at=float(entry["occurred_at"]),
                tenant=entry.get("tenant", ""),
                subject=entry.get("subject", ""),
                endpoint=entry.get("endpoint", ""),
                model=entry.get("model", ""),
                deployment=entry.get("deployment", ""),
                provider=entry.get("provider", ""),
                upstream_model=entry.get("upstream_model", ""),
                input_tokens=int(entry.get("input_tokens", "0")),
                output_tokens=int(entry.get("output_tokens", "0")),
                cached_tokens=int(entry.get("cached_tokens", "0")),
                latency_ms=int(entry.get("latency_ms", "0")),
                outcome=entry.get("outcome", ""),
                cache_write_tokens=int(entry.get("cache_write_tokens", "0")),
                cache_hit=entry.get("cache_hit") == "1",
                streamed=entry.get("streamed") == "1",
                prompt_name=entry.get("prompt_name", ""),
                prompt_version=int(entry.get("prompt_version", "0")),
                flag_variants=_variants(entry.get("flag_variants", "{}")),
                error_reason=entry.get("error_reason", ""),
                user=entry.get("user", ""),
                api_key_id=entry.get("api_key_id", ""),
            )
        except KeyError as exc:
            raise ValueError(f"usage event without {exc}") from exc


def _variants(text: str) -> dict[str, str]:
    try:
        variants = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("flag_variants is not JSON") from exc
    if not isinstance(variants, dict):
        raise ValueError("flag_variants is not a JSON object")
    return {str(key): str(value) for key, value in variants.items()}


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class UsageSink(Protocol):
    def emit(self, event: UsageEvent) -> None:
        """Hand `event` over for delivery; synchronous, never blocks, never raises."""
        ...

    async def flush(self, timeout: float) -> None:  # noqa: ASYNC109  (a deadline, not an error)
        """Wait until every event emitted so far is delivered, or `timeout` seconds passed."""
        ...

    async def aclose(self) -> None:
        """Flush what can be flushed and stop; later events are dropped (and counted)."""
        ...


class UsageMetrics:
    """Counters of usage events on one registry, shared by whichever sink is configured."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.emitted = Counter(
            "router_usage_events_emitted_total",
            "Usage events delivered: written to the stream, or queued for the in-process consumer.",
            registry=registry,
        )
        self.dropped = Counter(
            "router_usage_events_dropped_total",
            "Usage events lost: the buffer overflowed (oldest dropped) or the sink was closed.",
            ("reason",),
            registry=registry,
        )
        self.write_failures = Counter(
            "router_usage_write_failures_total",
            "Failed attempts to write a batch of usage events (retried with backoff).",
            registry=registry,
        )
