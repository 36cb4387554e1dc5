"""The job codec: requests and completions survive a trip through JSON text unchanged."""

from __future__ import annotations

import json

from services.router.chat import (
    CacheControl,
    CallContext,
    ChatRequest,
    Choice,
    Completion,
    FunctionCall,
    FunctionDefinition,
    Message,
    Sampling,
    Tool,
    ToolCall,
    Usage,
)
from services.router.jobs.job_codec import (
    decode_completion,
    decode_request,
    encode_completion,
    encode_request,
)

FULL_REQUEST = ChatRequest(
    model="gpt-4o",
    messages=(
        Message(role="system", content="Be brief."),
        Message(role="user", content="Weather in Zürich?", name="ana"),
        Message(
            role="assistant",
            tool_calls=(
                ToolCall(
                    id="call_1",
                    function=FunctionCall(name="weather", arguments='{"city":"Zürich"}'),
                    index=0,
                ),
            ),
        ),
        Message(role="tool", content='{"temp": 21}', tool_call_id="call_1"),
    ),
    tools=(
        Tool(
            function=FunctionDefinition(
                name="weather",
                description="Current weather",
                parameters={"type": "object", "properties": {"city": {"type": "string"}}},
            )
        ),
    ),
    tool_choice="auto",
    sampling=Sampling(temperature=0.2, top_p=0.9, max_tokens=64, stop=("\n\n",), seed=7),
    cache=CacheControl(no_cache=True, no_store=False, ttl_seconds=30.0),
    context=CallContext(
        request_id="req-1",
        tenant="acme",
        subject="user-1",
        endpoint="chat",
        prompt_name="weather",
        prompt_version=3,
        flag_variants={"model-experiment": "b"},
    ),
)

FULL_COMPLETION = Completion(
    id="cmpl-9",
    choices=(
        Choice(0, Message("assistant", "It is 21 °C."), "stop"),
        Choice(
            1,
            Message(
                "assistant",
                tool_calls=(ToolCall("call_2", FunctionCall("weather", "{}"), index=0),),
            ),
            "tool_calls",
        ),
    ),
    usage=Usage(input_tokens=40, output_tokens=9, cached_tokens=32, cache_write_tokens=5),
    upstream_model="gpt-4o-2024-08-06",
)


def test_request_with_every_field_round_trips() -> None:
    assert decode_request(encode_request(FULL_REQUEST)) == FULL_REQUEST


def test_minimal_request_round_trips() -> None:
    request = ChatRequest(model="m", messages=(Message(role="user", content="hi"),))
    assert decode_request(encode_request(request)) == request


def test_completion_with_tool_calls_round_trips() -> None:
    assert decode_completion(encode_completion(FULL_COMPLETION)) == FULL_COMPLETION


def test_rows_written_before_a_field_existed_decode_with_its_default() -> None:
    """Stored rows outlive deploys: keys the writer did not know yet take their defaults."""
    old = {"model": "m", "messages": [{"role": "user"}]}
    assert decode_request(json.dumps(old)) == ChatRequest(
        model="m", messages=(Message(role="user"),)
    )
    assert decode_completion('{"id": "c"}') == Completion(id="c", choices=(), usage=Usage())


def test_encoding_is_stable_text() -> None:
    """Sorted keys, no spaces: the same value always gives the same bytes."""
    assert encode_request(FULL_REQUEST) == encode_request(
        decode_request(encode_request(FULL_REQUEST))
    )
    assert " " not in encode_completion(Completion(id="c", choices=(), usage=Usage()))
