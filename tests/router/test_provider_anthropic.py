"""AnthropicProvider against a fake Messages API over real HTTP: the translation both ways."""

from __future__ import annotations

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
from services.router.providers.anthropic import AnthropicProvider
from services.router.providers.anthropic_wire import DEFAULT_MAX_TOKENS
from services.router.providers.base import ProviderError
from tests.router.provider_calls import (
    API_KEY,
    drain,
    final_usage,
    joined_arguments,
    joined_content,
    question,
    upstream_call,
)
from tests.router.upstreams import FakeUpstreamControl, fake_anthropic_app, serve_upstream

WEATHER = Tool(
    FunctionDefinition(
        "get_weather",
        "The weather in a city",
        {"type": "object", "properties": {"city": {"type": "string"}}},
    )
)
CLOCK = Tool(FunctionDefinition("get_time"))


@pytest.fixture
def control() -> FakeUpstreamControl:
    return FakeUpstreamControl()


@pytest.fixture
async def base_url(control: FakeUpstreamControl) -> AsyncIterator[str]:
    async with serve_upstream(fake_anthropic_app(control)) as url:
        yield url


@pytest.fixture
async def provider() -> AsyncIterator[AnthropicProvider]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield AnthropicProvider(client)


async def test_complete_sends_a_messages_request_with_system_on_top(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    request = ChatRequest(
        model="public-model",
        messages=(
            Message("system", "Be brief."),
            Message("developer", "Answer in French."),
            Message("user", "Hello there"),
        ),
        sampling=Sampling(temperature=0.2, top_p=0.9, max_tokens=50, stop=("END",), seed=7),
    )
    await provider.complete(upstream_call(request, base_url, kind="anthropic"))
    sent = control.last_request
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.body == {
        "model": "upstream-model",
        "max_tokens": 50,
        "system": "Be brief.\n\nAnswer in French.",
        "messages": [{"role": "user", "content": "Hello there"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": ["END"],
    }


async def test_max_tokens_defaults_because_anthropic_requires_it(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    request = question("Hi")
    await provider.complete(upstream_call(request, base_url, kind="anthropic", upstream_model=""))
    assert control.last_request.body == {
        "model": "public-model",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": "Hi"}],
    }


async def test_no_key_header_without_a_key(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    await provider.complete(upstream_call(question(), base_url, kind="anthropic", api_key=None))
    assert "x-api-key" not in control.last_request.headers


async def test_usage_counts_cache_reads_in_the_input_tokens_and_cache_writes_apart(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    control.cached_tokens, control.cache_creation_tokens = 10, 4
    completion = await provider.complete(
        upstream_call(question("Capital of France?"), base_url, kind="anthropic")
    )
    assert completion.usage == Usage(
        input_tokens=3 + 10, output_tokens=6, cached_tokens=10, cache_write_tokens=4
    )
    assert completion.choices[0].message == Message(
        "assistant", "fake-anthropic answer to: Capital of France?"
    )
    assert completion.upstream_model == "upstream-model"


@pytest.mark.parametrize(
    ("sampling", "text", "finish"),
    [
        (Sampling(), "fake-anthropic answer to: one two three", "stop"),
        (Sampling(stop=("two",)), "fake-anthropic answer to: one ", "stop"),
        (Sampling(max_tokens=2), "fake-anthropic answer", "length"),
    ],
    ids=["end_turn", "stop_sequence", "max_tokens"],
)
async def test_stop_reasons_map_to_openai_finish_reasons(
    provider: AnthropicProvider, base_url: str, sampling: Sampling, text: str, finish: str
) -> None:
    request = replace(question("one two three"), sampling=sampling)
    completion = await provider.complete(upstream_call(request, base_url, kind="anthropic"))
    assert (completion.choices[0].message.content, completion.choices[0].finish_reason) == (
        text,
        finish,
    )


@pytest.mark.parametrize(
    ("tool_choice", "sent"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("get_time", {"type": "tool", "name": "get_time"}),
    ],
)
async def test_tool_choice_translates_and_tools_carry_an_input_schema(
    provider: AnthropicProvider,
    control: FakeUpstreamControl,
    base_url: str,
    tool_choice: str,
    sent: object,
) -> None:
    request = replace(question(), tools=(WEATHER, CLOCK), tool_choice=tool_choice)
    await provider.complete(upstream_call(request, base_url, kind="anthropic"))
    assert control.last_request.body["tool_choice"] == sent
    assert control.last_request.body["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
        {"name": "get_time", "description": "", "input_schema": {"type": "object"}},
    ]


async def test_tool_choice_is_left_out_without_tools(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    request = replace(question(), tool_choice="auto")
    await provider.complete(upstream_call(request, base_url, kind="anthropic"))
    assert "tool_choice" not in control.last_request.body


async def test_tool_call_round_trip(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    ask = replace(question("Weather in Paris?"), tools=(WEATHER,), tool_choice="get_weather")
    first = await provider.complete(upstream_call(ask, base_url, kind="anthropic"))
    reply = first.choices[0]
    call = reply.message.tool_calls[0]
    assert reply.finish_reason == "tool_calls"
    assert reply.message.content == "Calling get_weather."
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"query": "Weather in Paris?"}

    history = (*ask.messages, reply.message, Message("tool", "18C", tool_call_id=call.id))
    follow_up = replace(ask, messages=history, tool_choice="auto")
    second = await provider.complete(upstream_call(follow_up, base_url, kind="anthropic"))

    assert second.choices[0].message.content == "fake-anthropic saw tool result: 18C"
    sent = control.last_request.body["messages"]
    assert sent[1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Calling get_weather."},
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": "get_weather",
                    "input": {"query": "Weather in Paris?"},
                },
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}],
        },
    ]


async def test_consecutive_tool_results_merge_into_one_user_message(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    calls = (
        ToolCall("toolu_a", FunctionCall("get_weather", '{"city": "A"}')),
        ToolCall("toolu_b", FunctionCall("get_time", ""), index=1),
    )
    messages = (
        Message("user", "Weather in A, and the time?"),
        Message("assistant", "", tool_calls=calls),
        Message("tool", "10C", tool_call_id="toolu_a"),
        Message("tool", "noon", tool_call_id="toolu_b"),
        Message("user", "Thanks; and then?"),
    )
    request = ChatRequest("public-model", messages, tools=(WEATHER, CLOCK))
    completion = await provider.complete(upstream_call(request, base_url, kind="anthropic"))
    assert completion.choices[0].message.content == "fake-anthropic answer to: Thanks; and then?"
    sent = control.last_request.body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "user"]
    assert sent[1]["content"] == [
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "A"}},
        {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}},
    ]
    assert [block["tool_use_id"] for block in sent[2]["content"]] == ["toolu_a", "toolu_b"]


@pytest.mark.parametrize("arguments", ["[1, 2]", "{broken"])
async def test_arguments_that_are_not_a_json_object_are_rejected_before_sending(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str, arguments: str
) -> None:
    call = ToolCall("toolu_a", FunctionCall("get_weather", arguments))
    messages = (Message("user", "Hi"), Message("assistant", tool_calls=(call,)))
    request = ChatRequest("public-model", messages, tools=(WEATHER,))
    with pytest.raises(ProviderError) as caught:
        await provider.complete(upstream_call(request, base_url, kind="anthropic"))
    assert (caught.value.retryable, caught.value.reason) == (False, "UPSTREAM_REJECTED")
    assert control.requests == []


async def test_stream_translates_events_into_openai_chunks_with_usage_last(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    control.cached_tokens = 5
    call = upstream_call(question("Capital of France?"), base_url, kind="anthropic")
    chunks = await drain(provider.stream(call))
    assert control.last_request.body["stream"] is True
    assert chunks[0].choices[0].delta.role == "assistant"
    assert joined_content(chunks) == "fake-anthropic answer to: Capital of France?"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == ()
    assert final_usage(chunks) == Usage(input_tokens=3 + 5, output_tokens=6, cached_tokens=5)
    assert {chunk.id for chunk in chunks} == {chunks[0].id}
    assert {chunk.upstream_model for chunk in chunks} == {"upstream-model"}


async def test_stream_usage_keeps_cache_writes_out_of_the_input_tokens(
    provider: AnthropicProvider, control: FakeUpstreamControl, base_url: str
) -> None:
    control.cached_tokens, control.cache_creation_tokens = 5, 700
    call = upstream_call(question("Capital of France?"), base_url, kind="anthropic")
    chunks = await drain(provider.stream(call))
    assert final_usage(chunks) == Usage(
        input_tokens=3 + 5, output_tokens=6, cached_tokens=5, cache_write_tokens=700
    )


async def test_stream_tool_use_becomes_tool_call_deltas_indexed_among_tool_calls(
    provider: AnthropicProvider, base_url: str
) -> None:
    request = replace(question("Weather in Oslo?"), tools=(WEATHER,), tool_choice="required")
    chunks = await drain(provider.stream(upstream_call(request, base_url, kind="anthropic")))
    calls = joined_arguments(chunks)
    assert list(calls) == [0], "content block 1 is the message's first tool call"
    call_id, name, arguments = calls[0]
    assert call_id.startswith("call_")
    assert (name, json.loads(arguments)) == ("get_weather", {"query": "Weather in Oslo?"})
    assert joined_content(chunks) == "Calling get_weather."
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
