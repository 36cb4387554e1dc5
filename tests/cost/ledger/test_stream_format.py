"""The stream format as the router writes it, read back by the cost service's own parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.cost.ledger.stream_format import MalformedEntry, parse_entry
from services.router.usage_events import UsageEvent


def test_an_event_the_router_wrote_is_read_field_for_field() -> None:
    event = UsageEvent(
        request_id="req-1",
        occurred_at=1_764_244_800.25,
        tenant="acme",
        subject="users/ann",
        endpoint="chat",
        model="gpt-4o",
        deployment="openai-gpt-4o",
        provider="openai",
        upstream_model="gpt-4o-2024-08-06",
        input_tokens=100,
        output_tokens=20,
        cached_tokens=30,
        latency_ms=250,
        outcome="success",
        streamed=True,
        prompt_name="greeting",
        prompt_version=3,
        flag_variants={"exp": "b"},
    )
    raw = {key.encode(): value.encode() for key, value in event.to_fields().items()}

    record = parse_entry(raw)

    assert record.occurred_at == datetime(2025, 11, 27, 12, 0, 0, 250_000, tzinfo=UTC)
    assert (record.request_id, record.tenant, record.subject) == ("req-1", "acme", "users/ann")
    assert (record.model, record.provider, record.upstream_model) == (
        "gpt-4o",
        "openai",
        "gpt-4o-2024-08-06",
    )
    assert (record.input_tokens, record.output_tokens, record.cached_tokens) == (100, 20, 30)
    assert (record.prompt_name, record.prompt_version) == ("greeting", 3)
    assert record.flag_variants == {"exp": "b"}
    assert (record.latency_ms, record.outcome, record.cache_hit) == (250, "success", False)


def test_fields_the_router_may_add_within_the_schema_are_read_when_present() -> None:
    record = parse_entry(
        {
            "schema": "1",
            "request_id": "r",
            "occurred_at": "0",
            "user": "ann",
            "api_key_id": "k1",
            "reasoning_tokens": "7",
            "cache_write_tokens": "9",
            "something_new": "ignored",
        }
    )

    assert (record.user, record.api_key_id) == ("ann", "k1")
    assert (record.reasoning_tokens, record.cache_write_tokens) == (7, 9)


def test_the_routers_cache_writes_are_read_apart_from_the_input() -> None:
    event = UsageEvent(
        request_id="req-2",
        occurred_at=0.0,
        tenant="acme",
        subject="users/ann",
        endpoint="chat",
        model="claude",
        deployment="anthropic-claude",
        provider="anthropic",
        upstream_model="claude-sonnet-4",
        input_tokens=20,
        output_tokens=200,
        cached_tokens=0,
        cache_write_tokens=100_000,
        latency_ms=250,
        outcome="success",
    )
    raw = {key.encode(): value.encode() for key, value in event.to_fields().items()}

    record = parse_entry(raw)

    assert (record.input_tokens, record.cache_write_tokens) == (20, 100_000)


def test_an_entry_written_before_cache_writes_were_sent_reads_them_as_zero() -> None:
    record = parse_entry({"schema": "1", "request_id": "r", "occurred_at": "0"})

    assert record.cache_write_tokens == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"schema": "2"}, "schema"),
        ({"request_id": ""}, "request_id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "nan"}, "occurred_at"),
        ({"outcome": "exploded"}, "outcome"),
        ({"input_tokens": "1.5"}, "input_tokens"),
        ({"output_tokens": "-1"}, "negative"),
        ({"flag_variants": "[1]"}, "JSON object"),
        ({"flag_variants": "{"}, "not JSON"),
    ],
)
def test_a_malformed_entry_is_refused_with_the_reason(fields: dict[str, str], reason: str) -> None:
    entry = {"schema": "1", "request_id": "r", "occurred_at": "1.5"} | fields

    with pytest.raises(MalformedEntry, match=reason):
        parse_entry(entry)


def test_an_entry_without_a_time_or_in_another_encoding_is_refused() -> None:
    with pytest.raises(MalformedEntry, match="occurred_at"):
        parse_entry({"schema": "1", "request_id": "r"})
    with pytest.raises(MalformedEntry, match="UTF-8"):
        parse_entry({b"schema": b"1", b"request_id": b"\xff"})
