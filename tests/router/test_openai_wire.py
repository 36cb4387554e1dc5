"""Reading OpenAI-compatible answers that leave fields out, as vLLM and Ollama may, and SSE
framing details no fake server exercises."""

from __future__ import annotations

import httpx
import pytest

from services.router.chat import Message, Usage
from services.router.providers.base import ProviderError
from services.router.providers.openai_wire import parse_chunk, parse_completion
from services.router.providers.upstream_http import ServerSentEvent, server_sent_events


def test_a_minimal_answer_gets_defaults() -> None:
    completion = parse_completion("d1", {"choices": [{"message": {"content": None}}]})
    assert completion.choices[0].message == Message("assistant", "")
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage == Usage()
    assert (completion.id, completion.upstream_model) == ("", "")


def test_usage_without_prompt_details_has_no_cached_tokens() -> None:
    answer = {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}
    assert parse_completion("d1", answer).usage == Usage(4, 2, 0)


def test_a_chunk_of_the_wrong_shape_is_a_bad_response() -> None:
    with pytest.raises(ProviderError) as caught:
        parse_chunk("d1", '{"choices": "all of them"}', None)
    assert (caught.value.retryable, caught.value.reason) == (False, "UPSTREAM_BAD_RESPONSE")


def test_an_error_string_in_the_stream_is_raised_without_the_key() -> None:
    with pytest.raises(ProviderError) as caught:
        parse_chunk("d1", '{"error": "engine died; key was abc-secret"}', "abc-secret")
    assert str(caught.value) == "d1: upstream failed mid-stream: engine died; key was [redacted]"
    assert caught.value.retryable


async def test_sse_skips_comments_joins_data_lines_and_keeps_an_unterminated_last_event() -> None:
    body = b": keep-alive\n\nevent: a\ndata: one\ndata: two\n\ndata:three\r\n\r\ndata: tail"
    events = [event async for event in server_sent_events(httpx.Response(200, content=body))]
    assert events == [
        ServerSentEvent("a", "one\ntwo"),
        ServerSentEvent("message", "three"),
        ServerSentEvent("message", "tail"),
    ]
