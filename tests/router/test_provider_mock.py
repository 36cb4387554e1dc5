"""MockProvider: deterministic answers, usage, tool calls, streaming, latency, failures, options."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from services.router.catalogue import Deployment
from services.router.chat import (
    CallContext,
    ChatRequest,
    FunctionDefinition,
    Message,
    Sampling,
    Tool,
    Usage,
)
from services.router.providers.base import ProviderError, UpstreamCall
from services.router.providers.mock import MockProvider, validate_mock_options
from tests.router.provider_calls import (
    drain,
    final_usage,
    joined_arguments,
    joined_content,
    question,
)

WEATHER = Tool(FunctionDefinition("get_weather"))
CLOCK = Tool(FunctionDefinition("get_time"))


class RecordingSleep:
    """Records the waits asked for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def mock_call(request: ChatRequest, **options: object) -> UpstreamCall:
    deployment = Deployment(
        name="mock-a", provider="mock", upstream_model="mock-1", options=options
    )
    return UpstreamCall(request, deployment, None, 10.0)


async def test_the_answer_is_a_pure_function_of_the_request() -> None:
    request = question("What is the capital of France?")
    first = await MockProvider(random.Random(1)).complete(mock_call(request))
    other_caller = replace(request, context=CallContext(request_id="r-2", tenant="t"))
    again = await MockProvider(random.Random(2)).complete(mock_call(other_caller))
    different = await MockProvider().complete(mock_call(question("And of Spain?")))
    assert first == again
    assert first.id != different.id
    content = first.choices[0].message.content
    assert content.startswith("Mock answer to: What is the capital of France? (ref ")
    assert first.upstream_model == "mock-1"


async def test_usage_counts_words_of_every_message_and_of_the_answer() -> None:
    request = ChatRequest(
        "m", (Message("system", "Be brief please"), Message("user", "Hello mock world"))
    )
    completion = await MockProvider().complete(mock_call(request))
    words = len(completion.choices[0].message.content.split())
    assert completion.usage == Usage(input_tokens=6, output_tokens=words)
    assert words == 8


async def test_a_long_question_is_previewed_in_twelve_words() -> None:
    text = " ".join(f"w{i}" for i in range(30))
    completion = await MockProvider().complete(mock_call(question(text)))
    assert " w11 (ref" in completion.choices[0].message.content


async def test_output_words_sets_the_answer_length() -> None:
    completion = await MockProvider().complete(mock_call(question("Hi"), output_words=40))
    assert len(completion.choices[0].message.content.split()) == 40
    assert completion.usage.output_tokens == 40
    short = await MockProvider().complete(mock_call(question("Hi"), output_words=2))
    assert short.choices[0].message.content == "Mock answer"


async def test_max_tokens_cuts_the_answer_and_finishes_with_length() -> None:
    request = replace(question("Hi"), sampling=Sampling(max_tokens=3))
    completion = await MockProvider().complete(mock_call(request))
    assert completion.choices[0].message.content == "Mock answer to:"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.output_tokens == 3


@pytest.mark.parametrize(
    ("tool_choice", "name"), [("required", "get_weather"), ("get_time", "get_time")]
)
async def test_a_forced_tool_choice_answers_with_a_deterministic_tool_call(
    tool_choice: str, name: str
) -> None:
    request = replace(question("Weather?"), tools=(WEATHER, CLOCK), tool_choice=tool_choice)
    first = await MockProvider().complete(mock_call(request))
    again = await MockProvider().complete(mock_call(request))
    call = first.choices[0].message.tool_calls[0]
    assert first == again
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == (
        name,
        {"query": "Weather?"},
    )


@pytest.mark.parametrize("tool_choice", ["", "auto", "none"])
async def test_without_a_forced_choice_the_mock_answers_in_text(tool_choice: str) -> None:
    request = replace(question("Weather?"), tools=(WEATHER,), tool_choice=tool_choice)
    completion = await MockProvider().complete(mock_call(request))
    assert completion.choices[0].message.tool_calls == ()
    assert completion.choices[0].message.content.startswith("Mock answer to: Weather?")


async def test_a_tool_choice_naming_no_given_tool_is_rejected() -> None:
    request = replace(question(), tools=(WEATHER,), tool_choice="get_time")
    with pytest.raises(ProviderError) as caught:
        await MockProvider().complete(mock_call(request))
    assert (caught.value.retryable, caught.value.reason) == (False, "UPSTREAM_REJECTED")


async def test_a_conversation_without_a_user_message_gets_an_empty_preview() -> None:
    request = ChatRequest("m", (Message("system", "Be brief."),))
    completion = await MockProvider().complete(mock_call(request))
    assert completion.choices[0].message.content.startswith("Mock answer to: (ref ")


async def test_the_answer_to_a_tool_result_quotes_it() -> None:
    request = ChatRequest(
        "m", (Message("user", "Weather?"), Message("tool", "18C", tool_call_id="c"))
    )
    completion = await MockProvider().complete(mock_call(request))
    assert completion.choices[0].message.content.startswith("Mock answer to: 18C (ref ")


async def test_the_stream_joins_into_the_complete_answer_with_usage_last() -> None:
    provider = MockProvider()
    call = mock_call(question("Stream me please"))
    completion = await provider.complete(call)
    chunks = await drain(provider.stream(call))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert joined_content(chunks) == completion.choices[0].message.content
    assert len(chunks) == len(completion.choices[0].message.content.split()) + 3
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert final_usage(chunks) == completion.usage
    assert all(chunk.usage is None for chunk in chunks[:-1])


async def test_the_stream_of_a_tool_call_rebuilds_the_call() -> None:
    request = replace(question("Weather?"), tools=(WEATHER,), tool_choice="required")
    provider = MockProvider()
    completion = await provider.complete(mock_call(request))
    chunks = await drain(provider.stream(mock_call(request)))
    expected = completion.choices[0].message.tool_calls[0]
    assert joined_arguments(chunks) == {
        0: (expected.id, "get_weather", expected.function.arguments)
    }
    assert chunks[-2].choices[0].finish_reason == "tool_calls"


async def test_latency_is_waited_through_the_injected_sleep() -> None:
    sleep = RecordingSleep()
    provider = MockProvider(sleep=sleep)
    await provider.complete(mock_call(question(), latency_seconds=0.25))
    await drain(provider.stream(mock_call(question(), latency_seconds=0.5)))
    await provider.complete(mock_call(question()))
    assert sleep.waits == [0.25, 0.5]


async def test_failures_follow_the_seeded_rng_and_are_retryable_503s() -> None:
    async def outcomes(seed: int) -> list[ProviderError | None]:
        provider = MockProvider(random.Random(seed))
        results: list[ProviderError | None] = []
        for _ in range(40):
            try:
                await provider.complete(mock_call(question(), failure_rate=0.5))
                results.append(None)
            except ProviderError as error:
                results.append(error)
        return results

    first = await outcomes(7)
    again = await outcomes(7)
    failures = [error for error in first if error is not None]
    assert [error is None for error in first] == [error is None for error in again]
    assert 5 < len(failures) < 35
    assert {(e.retryable, e.status, e.reason) for e in failures} == {(True, 503, "UPSTREAM_ERROR")}
    assert str(failures[0]) == "mock-a: mock failure (failure_rate 0.5)"


async def test_a_failure_rate_of_one_fails_streams_before_any_chunk() -> None:
    stream = MockProvider(random.Random(0)).stream(mock_call(question(), failure_rate=1))
    with pytest.raises(ProviderError):
        await anext(stream)


async def test_aclose_is_harmless() -> None:
    provider = MockProvider()
    await provider.aclose()
    assert (await provider.complete(mock_call(question()))).choices


def test_valid_options_have_no_problems() -> None:
    assert validate_mock_options({}) == []
    assert (
        validate_mock_options({"latency_seconds": 1, "failure_rate": 0.5, "output_words": 3}) == []
    )


def test_every_bad_option_is_listed() -> None:
    problems = validate_mock_options(
        {
            "latency": 1,
            "colour": "red",
            "latency_seconds": -1,
            "failure_rate": "often",
            "output_words": 2.5,
        }
    )
    assert problems == [
        "unknown mock option 'colour' (known: failure_rate, latency_seconds, output_words)",
        "unknown mock option 'latency' (known: failure_rate, latency_seconds, output_words)",
        "mock option latency_seconds must be in [0, 600], not -1",
        "mock option failure_rate must be a number, not 'often'",
        "mock option output_words must be an integer, not 2.5",
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"failure_rate": 1.5},
        {"failure_rate": True},
        {"latency_seconds": float("nan")},
        {"latency_seconds": float("inf")},
        {"output_words": 0},
    ],
)
def test_out_of_range_values_are_problems(options: dict[str, object]) -> None:
    assert len(validate_mock_options(options)) == 1


async def test_a_call_with_bad_options_raises_value_error_listing_them() -> None:
    with pytest.raises(ValueError, match=r"unknown mock option 'speed'.*failure_rate must be"):
        await MockProvider().complete(mock_call(question(), speed=1, failure_rate=2))
