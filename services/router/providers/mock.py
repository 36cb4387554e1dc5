"""The built-in mock provider: answers without any network or key, for `make run` and tests.

Answers are a pure function of the request (model, messages, tools, tool choice, sampling; not
the caller's context), so the same question gets the same answer, id and usage on every replica,
which is what cache and retry tests need. Only latency and injected failures involve the
injected `sleep` and `rng`.

    content  "Mock answer to: <last user message, at most 12 words> (ref <8 hex>)", or exactly
             `output_words` words when that option is set
    usage    input = words of every message (at least 1); output = words of the answer,
             cut to `max_tokens` words with finish_reason "length"
    tools    with tools and tool_choice "required" (the first tool) or a function name, a tool
             call with arguments {"query": <last user message>}

Options (`deployment.options`, checked by `validate_mock_options`): latency_seconds (0..600,
default 0), failure_rate (0..1, default 0; a failure is a retryable 503), output_words (1..100000).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from services.router.chat import (
    ChatRequest,
    Choice,
    ChoiceDelta,
    Completion,
    FunctionCall,
    Message,
    StreamChunk,
    ToolCall,
    Usage,
)
from services.router.providers.base import ProviderError, UpstreamCall

PREVIEW_WORDS = 12
FILLER = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")
OPTION_RANGES: dict[str, tuple[float, float]] = {
    "latency_seconds": (0, 600),
    "failure_rate": (0, 1),
    "output_words": (1, 100_000),
}


@dataclass(frozen=True, slots=True)
class MockOptions:
    latency_seconds: float = 0.0
    failure_rate: float = 0.0
    output_words: int | None = None


def validate_mock_options(options: Mapping[str, Any]) -> list[str]:
    """Every problem with a mock deployment's options (empty when they are fine)."""
    problems = [
        f"unknown mock option {key!r} (known: {', '.join(sorted(OPTION_RANGES))})"
        for key in sorted(set(options) - set(OPTION_RANGES))
    ]
    for key, (low, high) in OPTION_RANGES.items():
        if key not in options:
            continue
        value = options[key]
        integer = key == "output_words"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (integer and not isinstance(value, int))
        ):
            kind = "an integer" if integer else "a number"
            problems.append(f"mock option {key} must be {kind}, not {value!r}")
        elif not low <= value <= high:
            problems.append(f"mock option {key} must be in [{low}, {high}], not {value!r}")
    return problems


def parse_mock_options(options: Mapping[str, Any]) -> MockOptions:
    problems = validate_mock_options(options)
    if problems:
        raise ValueError("; ".join(problems))
    return MockOptions(
        latency_seconds=float(options.get("latency_seconds", 0.0)),
        failure_rate=float(options.get("failure_rate", 0.0)),
        output_words=options.get("output_words"),
    )


class MockProvider:
    def __init__(
        self,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rng = rng or random.Random()
        self._sleep = sleep

    async def complete(self, call: UpstreamCall) -> Completion:
        await self._behave(call)
        return mock_completion(call)

    async def stream(self, call: UpstreamCall) -> AsyncGenerator[StreamChunk, None]:
        await self._behave(call)
        for chunk in stream_chunks(mock_completion(call)):
            yield chunk

    async def aclose(self) -> None:
        """Nothing to release."""

    async def _behave(self, call: UpstreamCall) -> None:
        options = parse_mock_options(call.deployment.options)
        if options.latency_seconds > 0:
            await self._sleep(options.latency_seconds)
        if options.failure_rate > 0 and self._rng.random() < options.failure_rate:
            raise ProviderError(
                f"{call.deployment.name}: mock failure (failure_rate {options.failure_rate})",
                retryable=True,
                status=503,
            )


def mock_completion(call: UpstreamCall) -> Completion:
    request = call.request
    options = parse_mock_options(call.deployment.options)
    digest = _digest(request)
    question = _last_user_text(request)
    input_tokens = max(1, sum(len(m.content.split()) for m in request.messages))
    model = call.deployment.upstream_model or request.model
    tool = _forced_tool(call)
    if tool is not None:
        arguments = json.dumps({"query": question})
        tool_call = ToolCall(id=f"call_{digest[:16]}", function=FunctionCall(tool, arguments))
        message = Message(role="assistant", tool_calls=(tool_call,))
        usage = Usage(input_tokens, len(arguments.split()))
        choice = Choice(0, message, "tool_calls")
        return Completion(f"mock-{digest[:24]}", (choice,), usage, model)
    words = _answer_words(question, digest, options.output_words)
    finish = "stop"
    limit = request.sampling.max_tokens
    if limit is not None and len(words) > limit:
        words, finish = words[:limit], "length"
    choice = Choice(0, Message(role="assistant", content=" ".join(words)), finish)
    return Completion(f"mock-{digest[:24]}", (choice,), Usage(input_tokens, len(words)), model)


def stream_chunks(completion: Completion) -> list[StreamChunk]:
    """The answer as OpenAI streams it: the role, word (or tool-call) pieces, the finish reason,
    then a chunk with no choices and the usage."""
    choice = completion.choices[0]

    def chunk(delta: Message, finish: str = "") -> StreamChunk:
        delta_choice = ChoiceDelta(0, delta, finish)
        return StreamChunk(completion.id, (delta_choice,), None, completion.upstream_model)

    chunks = [chunk(Message(role="assistant"))]
    for call in choice.message.tool_calls:
        start = ToolCall(call.id, FunctionCall(call.function.name, ""), index=call.index)
        chunks.append(chunk(Message(role="", tool_calls=(start,))))
        piece = ToolCall("", FunctionCall("", call.function.arguments), index=call.index)
        chunks.append(chunk(Message(role="", tool_calls=(piece,))))
    words = choice.message.content.split(" ") if choice.message.content else []
    for position, word in enumerate(words):
        chunks.append(chunk(Message(role="", content=word if position == 0 else f" {word}")))
    chunks.append(chunk(Message(role=""), choice.finish_reason))
    chunks.append(StreamChunk(completion.id, (), completion.usage, completion.upstream_model))
    return chunks


def _digest(request: ChatRequest) -> str:
    """Stable across processes (unlike hash()); the caller's context is left out on purpose."""
    key = repr((request.model, request.messages, request.tools, request.tool_choice))
    key += repr(request.sampling)
    return hashlib.sha256(key.encode()).hexdigest()


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role in ("user", "tool"):
            return message.content
    return ""


def _answer_words(question: str, digest: str, output_words: int | None) -> list[str]:
    preview = question.split()[:PREVIEW_WORDS]
    words = ["Mock", "answer", "to:", *preview, "(ref", f"{digest[:8]})"]
    if output_words is None:
        return words
    filler = (FILLER[int(digest[i % 64], 16) % len(FILLER)] for i in range(output_words))
    return (words + list(filler))[:output_words]


def _forced_tool(call: UpstreamCall) -> str | None:
    request = call.request
    if not request.tools or request.tool_choice in ("", "auto", "none"):
        return None
    names = [tool.function.name for tool in request.tools]
    if request.tool_choice == "required":
        return names[0]
    if request.tool_choice not in names:
        raise ProviderError(
            f"{call.deployment.name}: tool_choice names no given tool",
            retryable=False,
            status=400,
            reason="UPSTREAM_REJECTED",
        )
    return request.tool_choice
