"""OpenAICompatibleProvider against a fake OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from services.router.chat import (
    ChatRequest,
    FunctionCall,
    FunctionDefinition,
    Message,
    Sampling,
    Tool,
    ToolCall,
    Usage,
)
from services.router.providers.openai_compat import OpenAICompatibleProvider
from tests.router.provider_calls import (
    API_KEY,
    drain,
    final_usage,
    joined_arguments,
    joined_content,
    question,
    upstream_call,
)
from tests.router.upstreams import FakeUpstreamControl, fake_openai_app, serve_upstream

WEATHER = Tool(
    FunctionDefinition(
        "get_weather",
        "The weather in a city",
        {"type": "object", "properties": {"city": {"type": "string"}}},
    )
)


@pytest.fixture
def control() -> FakeUpstreamControl:
    return FakeUpstreamControl()


@pytest.fixture
async def base_url(control: FakeUpstreamControl) -> AsyncIterator[str]:
    async with serve_upstream(fake_openai_app(control)) as url:
        yield url


@pytest.fixture
async def provider() -> AsyncIterator[OpenAICompatibleProvider]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield OpenAICompatibleProvider(client)


async def test_complete_sends_the_request_in_openai_json(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    request = ChatRequest(
        model="public-model",
        messages=(Message("system", "Be brief."), Message("user", "Hello there", name="ann")),
        sampling=Sampling(temperature=0.2, top_p=0.9, max_tokens=50, stop=("END",), seed=7),
    )
    await provider.complete(upstream_call(request, base_url))
    sent = control.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body == {
        "model": "upstream-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there", "name": "ann"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 50,
        "seed": 7,
        "stop": ["END"],
    }


async def test_unset_fields_are_left_out_and_the_public_model_is_the_fallback(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    await provider.complete(upstream_call(question("Hi"), base_url, upstream_model=""))
    assert control.last_request.body == {
        "model": "public-model",
        "messages": [{"role": "user", "content": "Hi"}],
    }


async def test_no_authorization_header_without_a_key(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    await provider.complete(upstream_call(question(), base_url, api_key=None))
    assert "authorization" not in control.last_request.headers


async def test_complete_reads_content_finish_usage_and_model(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    control.cached_tokens = 2
    completion = await provider.complete(upstream_call(question("Capital of France?"), base_url))
    choice = completion.choices[0]
    assert choice.message == Message("assistant", "fake-openai answer to: Capital of France?")
    assert choice.finish_reason == "stop"
    assert completion.usage == Usage(input_tokens=3, output_tokens=6, cached_tokens=2)
    assert completion.upstream_model == "upstream-model"
    assert completion.id.startswith("fake-openai-")


async def test_an_answer_cut_by_max_tokens_finishes_with_length(
    provider: OpenAICompatibleProvider, base_url: str
) -> None:
    request = replace(question("one two three four"), sampling=Sampling(max_tokens=3))
    completion = await provider.complete(upstream_call(request, base_url))
    assert completion.choices[0].message.content == "fake-openai answer to:"
    assert completion.choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    ("tool_choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
async def test_tool_choice_keywords_are_strings_and_a_name_forces_that_function(
    provider: OpenAICompatibleProvider,
    control: FakeUpstreamControl,
    base_url: str,
    tool_choice: str,
    sent: object,
) -> None:
    request = replace(question(), tools=(WEATHER,), tool_choice=tool_choice)
    await provider.complete(upstream_call(request, base_url))
    assert control.last_request.body["tool_choice"] == sent
    assert control.last_request.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]


async def test_tool_call_round_trip(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    ask = replace(question("Weather in Paris?"), tools=(WEATHER,), tool_choice="get_weather")
    first = await provider.complete(upstream_call(ask, base_url))
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function == FunctionCall("get_weather", '{"query": "Weather in Paris?"}')

    history = (
        *ask.messages,
        first.choices[0].message,
        Message("tool", "18C", tool_call_id=call.id),
    )
    follow_up = replace(ask, messages=history, tool_choice="auto")
    second = await provider.complete(upstream_call(follow_up, base_url))

    assert second.choices[0].message.content == "fake-openai saw tool result: 18C"
    sent = control.last_request.body["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"query": "Weather in Paris?"}'},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "content": "18C", "tool_call_id": call.id}


async def test_stream_asks_for_usage_and_yields_role_content_finish_then_usage(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    call = upstream_call(question("Capital of France?"), base_url)
    chunks = await drain(provider.stream(call))
    assert control.last_request.body["stream"] is True
    assert control.last_request.body["stream_options"] == {"include_usage": True}
    assert control.last_request.headers["accept"] == "text/event-stream"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert joined_content(chunks) == "fake-openai answer to: Capital of France?"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == ()
    assert final_usage(chunks) == Usage(input_tokens=3, output_tokens=6)
    assert {chunk.upstream_model for chunk in chunks} == {"upstream-model"}


async def test_stream_tool_call_pieces_join_into_the_call(
    provider: OpenAICompatibleProvider, base_url: str
) -> None:
    request = replace(question("Weather in Oslo?"), tools=(WEATHER,), tool_choice="required")
    chunks = await drain(provider.stream(upstream_call(request, base_url)))
    calls = joined_arguments(chunks)
    assert list(calls) == [0]
    call_id, name, arguments = calls[0]
    assert call_id.startswith("call_")
    assert (name, json.loads(arguments)) == ("get_weather", {"query": "Weather in Oslo?"})
    assert chunks[-2].choices[0].finish_reason == "tool_calls"


async def test_closing_a_stream_early_disconnects_from_the_upstream(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    control.hold_stream_after = 2
    stream = provider.stream(upstream_call(question(), base_url))
    await anext(stream)
    await anext(stream)
    await stream.aclose()
    await control.wait_for_disconnects(1)
    assert control.disconnects == 1


async def test_a_cancelled_consumer_disconnects_from_the_upstream(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    control.hold_stream_after = 1
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(upstream_call(question(), base_url)):
            first_chunk.set()

    task = asyncio.create_task(consume())
    await first_chunk.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await control.wait_for_disconnects(1)


async def test_tool_call_with_existing_call_index_keeps_it(
    provider: OpenAICompatibleProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    """Assistant history with two calls is sent in order with both ids."""
    calls = (
        ToolCall("call_a", FunctionCall("get_weather", '{"city": "A"}')),
        ToolCall("call_b", FunctionCall("get_weather", '{"city": "B"}'), index=1),
    )
    messages = (
        Message("user", "Weather in A and B?"),
        Message("assistant", "", tool_calls=calls),
        Message("tool", "10C", tool_call_id="call_a"),
        Message("tool", "20C", tool_call_id="call_b"),
    )
    request = ChatRequest("public-model", messages, tools=(WEATHER,))
    completion = await provider.complete(upstream_call(request, base_url))
    assert completion.choices[0].message.content == "fake-openai saw tool result: 10C | 20C"
    sent_ids = [c["id"] for c in control.last_request.body["messages"][1]["tool_calls"]]
    assert sent_ids == ["call_a", "call_b"]
