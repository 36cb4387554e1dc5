"""AnthropicStreamTranslator on event sequences a fake server does not send: thinking blocks,
unknown events, usage updates in message_delta, and each kind of error event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.router.chat import Usage
from services.router.providers.anthropic_stream import AnthropicStreamTranslator
from services.router.providers.base import ProviderError

START = {
    "type": "message_start",
    "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 9}},
}


def feed_all(events: list[dict[str, Any]]) -> tuple[AnthropicStreamTranslator, list[Any]]:
    translator = AnthropicStreamTranslator("claude-1", api_key="sk-ant-secret-key-0000")
    chunks = [chunk for event in events for chunk in translator.feed(json.dumps(event))]
    return translator, chunks


def test_thinking_blocks_and_unknown_events_produce_nothing() -> None:
    _, chunks = feed_all(
        [
            START,
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "hmm"},
            },
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta"}},
            {"type": "content_block_stop", "index": 0},
            {"type": "brand_new_event"},
            {"type": "ping"},
        ]
    )
    assert len(chunks) == 1
    assert chunks[0].choices[0].delta.role == "assistant"


def test_a_text_block_that_starts_with_text_passes_it_on() -> None:
    block = {"type": "text", "text": "Hello"}
    _, chunks = feed_all(
        [START, {"type": "content_block_start", "index": 0, "content_block": block}]
    )
    assert chunks[-1].choices[0].delta.content == "Hello"


def test_message_delta_usage_updates_the_usage_of_message_start() -> None:
    translator, chunks = feed_all(
        [
            START,
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens"},
                "usage": {"output_tokens": 12, "cache_read_input_tokens": 3},
            },
            {"type": "message_stop"},
        ]
    )
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage == Usage(input_tokens=12, output_tokens=12, cached_tokens=3)
    assert (chunks[-1].id, chunks[-1].upstream_model) == ("msg_1", "claude-x")
    assert translator.finished


@pytest.mark.parametrize(
    ("kind", "retryable", "reason"),
    [
        ("overloaded_error", True, "UPSTREAM_ERROR"),
        ("api_error", True, "UPSTREAM_ERROR"),
        ("rate_limit_error", True, "UPSTREAM_RATE_LIMITED"),
        ("timeout_error", True, "UPSTREAM_TIMEOUT"),
        ("invalid_request_error", False, "UPSTREAM_REJECTED"),
    ],
)
def test_error_events_raise_by_their_type(kind: str, retryable: bool, reason: str) -> None:
    error = {"type": "error", "error": {"type": kind, "message": "key sk-ant-secret-key-0000"}}
    with pytest.raises(ProviderError) as caught:
        feed_all([START, error])
    assert (caught.value.retryable, caught.value.reason) == (retryable, reason)
    assert "secret" not in str(caught.value)
    assert str(caught.value).startswith(f"claude-1: upstream failed mid-stream: {kind}: key ")


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '{"no": "type"}'])
def test_an_event_that_is_not_an_anthropic_event_is_a_bad_response(data: str) -> None:
    translator = AnthropicStreamTranslator("claude-1", api_key=None)
    with pytest.raises(ProviderError) as caught:
        translator.feed(data)
    assert caught.value.reason == "UPSTREAM_BAD_RESPONSE"


def test_cache_writes_of_message_start_are_kept_out_of_the_input_tokens() -> None:
    usage = {"input_tokens": 9, "cache_creation_input_tokens": 500, "cache_read_input_tokens": 2}
    start = {"type": "message_start", "message": {"id": "msg_1", "usage": usage}}
    _, chunks = feed_all(
        [start, {"type": "message_delta", "usage": {"output_tokens": 4}}, {"type": "message_stop"}]
    )
    assert chunks[-1].usage == Usage(
        input_tokens=9 + 2, output_tokens=4, cached_tokens=2, cache_write_tokens=500
    )
