"""The router's usage stream entries (schema "1"), read into `UsageRecord`s.

Our own parser of the format documented in `services/router/usage_events.py`, on purpose: the
cost service must not import the router, and the stream is a contract between two deployables
that only its documentation fixes. Entries are flat string fields (bytes, as redis-py returns
them without decode_responses). Fields may be added within a schema: unknown ones are ignored,
missing optional ones default. `cache_write_tokens`, `user` and `api_key_id` (absent from
entries of older routers) and `reasoning_tokens` (not sent by the router yet) read as 0 or ""
when absent, so the router can add fields without a new schema. Anything else wrong raises
`MalformedEntry`, which the consumer dead-letters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime

from services.cost.usage import UsageRecord

SCHEMA = "1"
OUTCOMES = frozenset({"success", "error", "cancelled"})
_TEXT_FIELDS = (
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
)

EntryFields = Mapping[bytes, bytes] | Mapping[str, str]


class MalformedEntry(ValueError):
    """A stream entry that is not a usage event of a schema we know."""


def parse_entry(raw: EntryFields) -> UsageRecord:
    entry = _decoded(raw)
    if entry.get("schema") != SCHEMA:
        raise MalformedEntry(f"unknown usage event schema {entry.get('schema')!r}")
    request_id = entry.get("request_id", "")
    if not request_id:
        raise MalformedEntry("usage event without request_id")
    outcome = entry.get("outcome", "success")
    if outcome not in OUTCOMES:
        raise MalformedEntry(f"unknown outcome {outcome!r}")
    text = {name: entry.get(name, "") for name in _TEXT_FIELDS}
    return UsageRecord(
        request_id=request_id,
        occurred_at=_timestamp(entry.get("occurred_at")),
        tenant=text["tenant"],
        subject=text["subject"],
        endpoint=text["endpoint"],
        model=text["model"],
        deployment=text["deployment"],
        provider=text["provider"],
        upstream_model=text["upstream_model"],
        input_tokens=_count(entry, "input_tokens"),
        output_tokens=_count(entry, "output_tokens"),
        cached_tokens=_count(entry, "cached_tokens"),
        cache_write_tokens=_count(entry, "cache_write_tokens"),
        reasoning_tokens=_count(entry, "reasoning_tokens"),
        latency_ms=_count(entry, "latency_ms"),
        outcome=outcome,
        cache_hit=entry.get("cache_hit") == "1",
        prompt_name=text["prompt_name"],
        prompt_version=_count(entry, "prompt_version"),
        flag_variants=_variants(entry.get("flag_variants", "{}")),
        user=text["user"],
        api_key_id=text["api_key_id"],
    )


def _decoded(raw: EntryFields) -> dict[str, str]:
    try:
        return {_text(key): _text(value) for key, value in raw.items()}
    except UnicodeDecodeError as exc:
        raise MalformedEntry("usage event is not UTF-8") from exc


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _timestamp(text: str | None) -> datetime:
    if text is None:
        raise MalformedEntry("usage event without occurred_at")
    try:
        seconds = float(text)
        if not math.isfinite(seconds):
            raise ValueError(text)
        return datetime.fromtimestamp(seconds, UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise MalformedEntry(f"occurred_at is not unix seconds: {text[:40]!r}") from exc


def _count(entry: Mapping[str, str], name: str) -> int:
    text = entry.get(name, "0")
    try:
        value = int(text)
    except ValueError as exc:
        raise MalformedEntry(f"{name} is not an integer: {text[:40]!r}") from exc
    if value < 0:
        raise MalformedEntry(f"{name} cannot be negative")
    return value


def _variants(text: str) -> dict[str, str]:
    try:
        variants = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedEntry("flag_variants is not JSON") from exc
    if not isinstance(variants, dict):
        raise MalformedEntry("flag_variants is not a JSON object")
    return {str(key): str(value) for key, value in variants.items()}
