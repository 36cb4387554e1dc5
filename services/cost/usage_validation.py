"""Checks usage events before anything is written: every bad field of every event at once.

A batch is all or nothing: one bad event refuses the whole RecordUsage call (INVALID_ARGUMENT
naming `events[i].<field>`), so a producer never has to work out which half was written.
"""

from __future__ import annotations

import re

from services.cost.usage import UsageRecord
from svckit.errors import Violations

MAX_EVENTS = 1000
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OUTCOMES = frozenset({"success", "error", "cancelled"})
NAME_MAX = 200
TOKENS_MAX = 10**12


def validate_records(records: list[UsageRecord]) -> None:
    v = Violations()
    if not records:
        v.add("events", "must hold at least one event")
    if len(records) > MAX_EVENTS:
        v.add("events", f"at most {MAX_EVENTS} events per call")
    for i, record in enumerate(records[:MAX_EVENTS]):
        _check(v, f"events[{i}]", record)
    v.raise_if_any()


def _check(v: Violations, at: str, record: UsageRecord) -> None:
    v.check(
        bool(REQUEST_ID.match(record.request_id)), f"{at}.request_id", "1-128 of [A-Za-z0-9._:-]"
    )
    v.check(record.occurred_at.tzinfo is not None, f"{at}.occurred_at", "is required")
    v.check(record.outcome in OUTCOMES, f"{at}.outcome", "success, error or cancelled")
    for name in (
        "tenant",
        "subject",
        "endpoint",
        "model",
        "deployment",
        "provider",
        "upstream_model",
        "prompt_name",
        "user",
        "api_key_id",
    ):
        v.check(
            len(getattr(record, name)) <= NAME_MAX, f"{at}.{name}", f"at most {NAME_MAX} characters"
        )
    for name in (
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    ):
        value = getattr(record, name)
        v.check(0 <= value <= TOKENS_MAX, f"{at}.{name}", f"must be between 0 and {TOKENS_MAX}")
    v.check(
        record.input_tokens < 0 or record.cached_tokens <= record.input_tokens,
        f"{at}.cached_tokens",
        "cannot exceed input_tokens",
    )
    v.check(
        record.output_tokens < 0 or record.reasoning_tokens <= record.output_tokens,
        f"{at}.reasoning_tokens",
        "cannot exceed output_tokens",
    )
    v.check(record.latency_ms >= 0, f"{at}.latency", "cannot be negative")
    v.check(record.prompt_version >= 0, f"{at}.prompt_version", "cannot be negative")
    if record.cache_hit:
        paid = record.input_tokens or record.output_tokens or record.cache_write_tokens
        v.check(not paid, f"{at}.cache_hit", "a cache hit used no upstream tokens")
