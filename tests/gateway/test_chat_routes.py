"""The OpenAI-compatible routes through the whole pipeline, over real HTTP, against the real
rate-limit, cost and router services: the official `openai` SDK, sync and async, streaming and
not; the rate-limit headers; the tier limit's 429; authentication and scopes.

The sync client runs in a thread: the servers live in the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from tests.gateway.pipeline.stack import Stack, running_stack

MODEL = "mock-gpt"


def ask(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


def sync_client(stack: Stack, key: str = "acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=stack.keys[key], max_retries=0)


def async_client(stack: Stack, key: str = "acme") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack.base_url, api_key=stack.keys[key], max_retries=0)


async def test_sync_sdk_completes_through_the_pipeline_with_openai_headers(stack: Stack) -> None:
    def call() -> tuple[ChatCompletion, dict[str, str]]:
        with sync_client(stack) as client:
            raw = client.chat.completions.with_raw_response.create(
                model=MODEL, messages=ask("Hello there")
            )
            return raw.parse(), {k.lower(): v for k, v in raw.headers.items()}

    completion, headers = await asyncio.to_thread(call)

    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 100
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-switchboard-cache"] == "miss"
    assert headers["x-ratelimit-limit-requests"] == "60"
    assert headers["x-ratelimit-remaining-requests"] == "59"
    assert headers["x-ratelimit-reset-requests"] == "45s"
    assert headers["x-ratelimit-limit-tokens"] == "200000"


async def test_async_sdk_streams_with_usage_last(stack: Stack) -> None:
    async with async_client(stack) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=ask("Stream please"),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 100
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 100


async def test_sync_sdk_streams_and_async_sdk_completes(stack: Stack) -> None:
    def stream() -> str:
        with sync_client(stack) as client:
            chunks = client.chat.completions.create(
                model=MODEL, messages=ask("sync stream"), stream=True
            )
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    streamed = await asyncio.to_thread(stream)
    async with async_client(stack) as client:
        completion = await client.chat.completions.create(model=MODEL, messages=ask("async"))

    assert len(streamed.split()) == 100
    assert completion.choices[0].finish_reason == "stop"


async def test_a_repeated_deterministic_question_is_answered_from_the_cache(stack: Stack) -> None:
    async with httpx.AsyncClient(headers=stack.auth("acme")) as http:
        body = {"model": MODEL, "messages": ask("same question"), "temperature": 0}
        first = await http.post(f"{stack.base_url}/chat/completions", json=body)
        second = await http.post(f"{stack.base_url}/chat/completions", json=body)

    assert first.headers["x-switchboard-cache"] == "miss"
    assert second.headers["x-switchboard-cache"] == "hit"
    assert second.json()["choices"] == first.json()["choices"]


async def test_the_remaining_requests_header_counts_down(stack: Stack) -> None:
    remaining = []
    async with httpx.AsyncClient(headers=stack.auth("acme")) as http:
        for n in range(3):
            body = {"model": MODEL, "messages": ask(f"question {n}")}
            answer = await http.post(f"{stack.base_url}/chat/completions", json=body)
            remaining.append(answer.headers["x-ratelimit-remaining-requests"])

    assert remaining == ["59", "58", "57"]


async def test_a_failed_router_call_gives_its_reservation_back(stack: Stack) -> None:
    async with httpx.AsyncClient(headers=stack.auth("acme")) as http:
        url = f"{stack.base_url}/chat/completions"
        before = await http.post(url, json={"model": MODEL, "messages": ask("one")})
        unknown = await http.post(url, json={"model": "no-such-model", "messages": ask("two")})
        assert stack.gateway.pipeline is not None
        await stack.gateway.pipeline.drain()
        after = await http.post(url, json={"model": MODEL, "messages": ask("three")})

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert before.headers["x-ratelimit-remaining-requests"] == "59"
    assert after.headers["x-ratelimit-remaining-requests"] == "58"


async def test_the_tier_limit_answers_429_with_retry_after(stack: Stack) -> None:
    async with async_client(stack, "acme-tiny") as client:
        for n in range(2):
            await client.chat.completions.create(model=MODEL, messages=ask(f"tiny {n}"))
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model=MODEL, messages=ask("one too many"))

    response = refused.value.response
    assert refused.value.code == "rate_limit_exceeded"
    assert response.headers["retry-after"] == "45"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "45s"
    assert "requests per minute" in refused.value.message


async def test_models_are_listed_from_the_router_catalogue(stack: Stack) -> None:
    async with async_client(stack) as client:
        models = await client.models.list()

    assert [model.id for model in models.data] == ["fake-gpt", MODEL]


async def test_embeddings_answer_404_no_provider_supports_them(stack: Stack) -> None:
    async with async_client(stack) as client:
        with pytest.raises(openai.NotFoundError) as missing:
            await client.embeddings.create(model="any", input="text")

    assert "not supported by any configured provider" in missing.value.message


async def test_requests_without_a_valid_key_are_401_without_echoing_it(stack: Stack) -> None:
    wrong = stack.keys["acme"][:-4] + "AAAA"
    async with httpx.AsyncClient() as http:
        url = f"{stack.base_url}/chat/completions"
        body = {"model": MODEL, "messages": ask("hi")}
        missing = await http.post(url, json=body)
        bad = await http.post(url, json=body, headers={"authorization": f"Bearer {wrong}"})
        garbage = await http.get(f"{stack.base_url}/models", headers={"authorization": "Basic x"})

    for answer in (missing, bad, garbage):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_api_key"
        assert answer.headers["x-request-id"].startswith("req_")
    assert wrong not in bad.text
    assert wrong[:15] not in bad.text


async def test_a_revoked_key_stops_at_once(stack: Stack) -> None:
    await stack.gateway.key_lookup.revoke(stack.key_ids["acme"])
    async with async_client(stack) as client:
        with pytest.raises(openai.AuthenticationError) as refused:
            await client.models.list()

    assert "revoked" in refused.value.message


async def test_a_key_without_the_inference_scope_is_403(stack: Stack) -> None:
    async with async_client(stack, "acme-admin") as client:
        with pytest.raises(openai.PermissionDeniedError) as refused:
            await client.chat.completions.create(model=MODEL, messages=ask("hi"))

    assert "inference" in refused.value.message


async def test_a_bad_body_is_a_400_naming_the_field(stack: Stack) -> None:
    async with httpx.AsyncClient(headers=stack.auth("acme")) as http:
        url = f"{stack.base_url}/chat/completions"
        not_json = await http.post(url, content=b"{nope")
        no_messages = await http.post(url, json={"model": MODEL})

    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "invalid_json"
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["param"] == "messages"


async def test_a_stream_that_fails_before_its_first_chunk_is_a_proper_status(
    stack: Stack,
) -> None:
    async with async_client(stack) as client:
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(
                model="no-such-model", messages=ask("stream?"), stream=True
            )

    assert missing.value.code == "model_not_found"
    assert missing.value.response.headers["x-ratelimit-remaining-requests"] == "59"


async def test_a_client_request_id_travels_alongside_the_gateways(stack: Stack) -> None:
    async with httpx.AsyncClient(headers=stack.auth("acme")) as http:
        answer = await http.post(
            f"{stack.base_url}/chat/completions",
            json={"model": MODEL, "messages": ask("with my id")},
            headers={"x-request-id": "client-42"},
        )

    assert answer.headers["x-client-request-id"] == "client-42"
    assert answer.headers["x-request-id"] != "client-42"


def _tool_with(parameters: bytes) -> bytes:
    return b'[{"type": "function", "function": {"name": "f", "parameters": ' + parameters + b"}}]"


def _odd_body(field: bytes, value: bytes) -> bytes:
    return b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "%s": %s}' % (
        MODEL.encode(),
        field,
        value,
    )


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        pytest.param(
            b'{"model": "%s", "messages": [{"role": "user", "content": "\\ud800"}]}'
            % MODEL.encode(),
            "messages[0].content", "invalid_value", id="lone-surrogate-in-content",
        ),
        pytest.param(
            _odd_body(b"tools", _tool_with(b'{"maxLength": ' + b"9" * 400 + b"}")),
            "tools[0].function.parameters", "invalid_value", id="tool-parameter-beyond-a-double",
        ),
        pytest.param(
            _odd_body(b"tools", _tool_with(b'{"a": ' * 40 + b"{}" + b"}" * 40)),
            "tools[0].function.parameters", "invalid_value", id="tool-parameters-40-deep",
        ),
        pytest.param(
            _odd_body(b"temperature", b"9" * 400), "temperature", "invalid_value",
            id="temperature-beyond-a-double",
        ),
        pytest.param(
            _odd_body(b"seed", b"9" * 5000), None, "invalid_json",
            id="integer-over-4300-digits",
        ),
    ],
)  # fmt: skip
async def test_valid_json_with_odd_values_is_a_400_and_reserves_nothing(
    stack: Stack, raw: bytes, param: str | None, code: str
) -> None:
    headers = {**stack.auth("acme"), "content-type": "application/json"}
    async with httpx.AsyncClient(headers=headers) as http:
        url = f"{stack.base_url}/chat/completions"
        odd = await http.post(url, content=raw)
        after = await http.post(url, json={"model": MODEL, "messages": ask("fine")})

    assert odd.status_code == 400, odd.text
    error = odd.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert after.status_code == 200, after.text
    assert after.headers["x-ratelimit-remaining-requests"] == "59"  # the odd one reserved nothing
