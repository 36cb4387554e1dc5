"""The official `openai` SDK, sync and async, streaming and not, works unchanged against the shapes.

The sync client runs in a thread: the HTTP server lives in the test's event loop.
"""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageParam,
)

from tests.gateway.openai.conftest import Served

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
WEATHER_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def sync_client(served: Served, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key="sk-test", max_retries=max_retries)


def async_client(served: Served, max_retries: int = 0) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=served.base_url, api_key="sk-test", max_retries=max_retries)


async def read_into(stream: openai.AsyncStream[ChatCompletionChunk], received: list[str]) -> None:
    async for chunk in stream:
        received.append(chunk.choices[0].delta.content or "")


async def test_sync_client_reads_a_completion(served: Served) -> None:
    def call() -> ChatCompletion:
        with sync_client(served) as client:
            return client.chat.completions.create(model="small", messages=MESSAGES)

    completion = await asyncio.to_thread(call)

    assert completion.choices[0].message.content == "Hello there!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 5)
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 4
    assert completion.created == 1_700_000_000


async def test_async_client_sends_what_the_router_receives(served: Served) -> None:
    async with async_client(served) as client:
        await client.chat.completions.create(
            model="small",
            messages=[{"role": "system", "content": "Be brief"}, *MESSAGES],
            temperature=0.2,
            max_completion_tokens=64,
            stop=["\n\n"],
            seed=7,
            user="end-user-1",
        )

    [request] = served.router.requests
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.temperature == pytest.approx(0.2)
    assert (request.max_tokens, list(request.stop), request.seed) == (64, ["\n\n"], 7)
    assert request.context.tenant == "t1"
    assert request.context.endpoint == "/v1/chat/completions"
    assert served.front.calls[0].user == "end-user-1"


async def test_async_client_reads_a_tool_call(served: Served) -> None:
    async with async_client(served) as client:
        completion = await client.chat.completions.create(
            model="tools",
            messages=MESSAGES,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        )

    message = completion.choices[0].message
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function"
    assert (call.id, call.function.name) == ("call_1", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert completion.choices[0].finish_reason == "tool_calls"
    request = served.router.requests[0]
    assert request.tool_choice == "get_weather"
    assert request.tools[0].function.parameters["type"] == "object"


async def test_sync_stream_yields_the_text_and_a_usage_chunk(served: Served) -> None:
    def call() -> list[ChatCompletionChunk]:
        with sync_client(served) as client:
            stream = client.chat.completions.create(
                model="small",
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            return list(stream)

    chunks = await asyncio.to_thread(call)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there!"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 17
    assert all(c.usage is None for c in chunks[:-1])


async def test_async_stream_without_include_usage_has_no_usage(served: Served) -> None:
    async with async_client(served) as client:
        stream = await client.chat.completions.create(
            model="small",
            messages=MESSAGES,
            stream=True,
        )
        chunks = [chunk async for chunk in stream]

    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    assert {chunk.id for chunk in chunks} == {"chatcmpl-s"}


async def test_stream_helper_assembles_tool_call_deltas(served: Served) -> None:
    async with (
        async_client(served) as client,
        client.chat.completions.stream(
            model="tools",
            messages=MESSAGES,
            tools=[WEATHER_TOOL],
        ) as stream,
    ):
        completion = await stream.get_final_completion()

    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].id == "call_1"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}


async def test_models_are_listed(served: Served) -> None:
    async with async_client(served) as client:
        page = await client.models.list()

    assert [(m.id, m.owned_by, m.object) for m in page.data] == [
        ("small", "switchboard", "model"),
        ("tools", "switchboard", "model"),
    ]


async def test_unknown_model_raises_not_found(served: Served) -> None:
    async with async_client(served) as client:
        with pytest.raises(openai.NotFoundError) as caught:
            await client.chat.completions.create(model="missing", messages=MESSAGES)

    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


async def test_unknown_model_in_a_stream_is_a_status_not_a_frame(served: Served) -> None:
    async with async_client(served) as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="missing",
                messages=MESSAGES,
                stream=True,
            )


async def test_invalid_request_raises_bad_request_naming_the_field(served: Served) -> None:
    async with async_client(served) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model="small",
                messages=MESSAGES,
                temperature=3,
            )

    assert caught.value.param == "temperature"
    assert caught.value.code == "invalid_value"
    assert served.router.requests == []


async def test_router_field_violation_becomes_bad_request_param(served: Served) -> None:
    async with async_client(served) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="rejected", messages=MESSAGES)

    assert caught.value.param == "messages[0].content"
    assert caught.value.code == "upstream_rejected"


async def test_n_above_one_is_refused(served: Served) -> None:
    async with async_client(served) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="small", messages=MESSAGES, n=2)

    assert caught.value.param == "n"


async def test_rate_limit_raises_with_retry_after(served: Served) -> None:
    async with async_client(served) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="limited", messages=MESSAGES)

    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.response.headers["retry-after-ms"] == "10"


async def test_sdk_retries_a_rate_limit_after_the_advertised_wait(served: Served) -> None:
    """retry-after-ms (10 ms) is short, so the SDK's retry finishes the test quickly."""
    async with async_client(served, max_retries=1) as client:
        completion = await client.chat.completions.create(
            model="limited-once",
            messages=MESSAGES,
        )

    assert completion.choices[0].message.content == "Hello there!"
    assert len(served.front.calls) == 2


async def test_budget_refusal_is_insufficient_quota_and_not_retried(served: Served) -> None:
    async with async_client(served, max_retries=2) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="broke", messages=MESSAGES)

    assert caught.value.code == "insufficient_quota"
    assert len(served.front.calls) == 1


async def test_unavailable_router_raises_internal_server_error_without_internals(
    served: Served,
) -> None:
    async with async_client(served) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="down", messages=MESSAGES)

    assert caught.value.status_code == 503
    assert caught.value.code == "all_deployments_failed"
    assert "10.0.0.7" not in caught.value.message


async def test_error_after_the_stream_started_raises_api_error(served: Served) -> None:
    received: list[str] = []
    async with async_client(served) as client:
        stream = await client.chat.completions.create(
            model="breaks",
            messages=MESSAGES,
            stream=True,
        )
        with pytest.raises(openai.APIError) as caught:
            await read_into(stream, received)

    assert received == ["", "Hel"]
    assert "10.0.0.7" not in caught.value.message
    assert caught.value.code == "upstream_stream_broken"
