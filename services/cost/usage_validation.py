"""Checks usage events before anything is written: every bad field of every event at once.

A batch is all or nothing: one bad event refuses the whole RecordUsage call (INVALID_ARGUMENT
naming `events[i].<field>`), so a producer never has to work out which half was written.
The ledger's own limits (`check_ledger_range`) also guard the usage stream, whose entries
cannot be refused to their producer and are dead-lettered instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from services.cost.usage import UsageRecord
from svckit.errors import Violations

MAX_EVENTS = 1000
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OUTCOMES = frozenset({"success", "error", "cancelled"})
NAME_MAX = 200
TOKENS_MAX = 10**12
"""Per token field, far above any real request. Priced, at most input + cache writes + output
count (cached and reasoning tokens are parts of those), so an event costs at most 3 * 10**12
tokens at its price: within BIGINT (about 9.2 * 10**18 nanos) for any price up to about 3,000
currency units per million tokens, well above today's dearest models."""
OCCURRED_FROM = datetime(2000, 1, 1, tzinfo=UTC)
OCCURRED_UNTIL = datetime(9000, 1, 1, tzinfo=UTC)
_TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)


def validate_records(records: list[UsageRecord]) -> None:
    v = Violations()
    if not records:
        v.add("events", "must hold at least one event")
    if len(records) > MAX_EVENTS:
        v.add("events", f"at most {MAX_EVENTS} events per call")
    for i, record in enumerate(records[:MAX_EVENTS]):
        _check(v, f"events[{i}]", record)
    v.raise_if_any()


def check_ledger_range(record: UsageRecord) -> None:
    """`InvalidArgument` naming the fields of one event outside what the ledger can book (the
    stream consumer's check; RecordUsage checks the same within `validate_records`)."""
    v = Violations()
    _check_range(v, "", record)
    v.raise_if_any()


def _check_range(v: Violations, at: str, record: UsageRecord) -> None:
    """Times from 2000 (before any LLM usage: an earlier one is a broken clock or an unset
    field) until 9000: budget periods end after their events (the next day, week or month), and
    for an event late in 9999, datetime's last year, that end cannot be computed. Token counts
    up to `TOKENS_MAX`, so the priced cost fits the ledger's integer columns."""
    occurred = record.occurred_at
    if occurred.tzinfo is not None:  # naive: refused as missing by the caller
        v.check(
            OCCURRED_FROM <= occurred < OCCURRED_UNTIL,
            f"{at}occurred_at",
            f"must be from {OCCURRED_FROM.year} until {OCCURRED_UNTIL.year}",
        )
    for name in _TOKEN_FIELDS:
        value = getattr(record, name)
        v.check(0 <= value <= TOKENS_MAX, f"{at}{name}", f"must be between 0 and {TOKENS_MAX}")


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
    _check_range(v, f"{at}.", record)
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
