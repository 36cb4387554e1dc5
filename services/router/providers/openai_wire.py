"""OpenAI's chat-completions wire format, to and from the router's types.

The router's types already are OpenAI's shape, so this is mostly field naming. Sampling fields
are sent only when set, so each upstream applies its own defaults. A `tool_choice` other than
"auto", "none" or "required" names the one function the model must call. Answers are read through
lenient pydantic models (unknown fields ignored, missing optional fields defaulted) so the many
OpenAI-compatible servers (vLLM, Ollama, Together) that leave out a field still parse; an answer
of the wrong shape raises UPSTREAM_BAD_RESPONSE.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
from pydantic import BaseModel

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
from services.router.providers.base import ProviderError
from services.router.providers.http_errors import bad_response, sanitize_snippet

TOOL_CHOICE_KEYWORDS = frozenset({"auto", "none", "required"})


def request_body(request: ChatRequest, upstream_model: str, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": upstream_model or request.model,
        "messages": [_message(m) for m in request.messages],
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.function.name,
                    "description": t.function.description,
                    "parameters": dict(t.function.parameters),
                },
            }
            for t in request.tools
        ]
    if request.tool_choice:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    sampling = request.sampling
    optional = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "seed": sampling.seed,
        "stop": list(sampling.stop) or None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in TOOL_CHOICE_KEYWORDS:
        return choice
    return {"type": "function", "function": {"name": choice}}


def _message(message: Message) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name:
        wire["name"] = message.name
    if message.tool_calls:
        # OpenAI wants null, not "", beside tool calls when the model said nothing.
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": call.type,
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id:
        wire["tool_call_id"] = message.tool_call_id
    return wire


class _Lenient(BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class _Function(_Lenient):
    name: str | None = None
    arguments: str | None = None


class _ToolCall(_Lenient):
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: _Function = _Function()


class _Message(_Lenient):
    role: str | None = None
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(_Lenient):
    index: int = 0
    message: _Message
    finish_reason: str | None = None


class _PromptDetails(_Lenient):
    cached_tokens: int | None = None


class _Usage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: _PromptDetails | None = None


class _Completion(_Lenient):
    id: str = ""
    model: str = ""
    choices: list[_Choice]
    usage: _Usage | None = None


class _DeltaChoice(_Lenient):
    index: int = 0
    delta: _Message = _Message()
    finish_reason: str | None = None


class _Chunk(_Lenient):
    id: str = ""
    model: str = ""
    choices: list[_DeltaChoice] = []
    usage: _Usage | None = None


def parse_completion(deployment: str, answer: dict[str, Any]) -> Completion:
    try:
        wire = _Completion.model_validate(answer)
    except pydantic.ValidationError:
        raise bad_response(deployment, "not a chat completion") from None
    return Completion(
        id=wire.id,
        choices=tuple(
            Choice(c.index, _to_message(c.message), c.finish_reason or "stop") for c in wire.choices
        ),
        usage=_to_usage(wire.usage),
        upstream_model=wire.model,
    )


def parse_chunk(deployment: str, data: str, api_key: str | None) -> StreamChunk:
    """One `data:` payload of a stream. vLLM and others report a failure inside the stream as
    `{"error": ...}`; it is raised as a retryable error, since the status line already said 200."""
    try:
        raw = json.loads(data)
    except ValueError:
        raise bad_response(deployment, "stream event is not JSON") from None
    if isinstance(raw, dict) and "error" in raw:
        error = raw["error"]
        text = error.get("message", "") if isinstance(error, dict) else str(error)
        snippet = sanitize_snippet(str(text), api_key)
        raise ProviderError(f"{deployment}: upstream failed mid-stream: {snippet}", retryable=True)
    try:
        wire = _Chunk.model_validate(raw)
    except pydantic.ValidationError:
        raise bad_response(deployment, "not a chat completion chunk") from None
    return StreamChunk(
        id=wire.id,
        choices=tuple(
            ChoiceDelta(c.index, _to_message(c.delta, role=""), c.finish_reason or "")
            for c in wire.choices
        ),
        usage=_to_usage(wire.usage) if wire.usage is not None else None,
        upstream_model=wire.model,
    )


def _to_message(wire: _Message, role: str = "assistant") -> Message:
    calls = tuple(
        ToolCall(
            id=call.id or "",
            function=FunctionCall(call.function.name or "", call.function.arguments or ""),
            type=call.type or "function",
            index=position if call.index is None else call.index,
        )
        for position, call in enumerate(wire.tool_calls or ())
    )
    return Message(role=wire.role or role, content=wire.content or "", tool_calls=calls)


def _to_usage(wire: _Usage | None) -> Usage:
    if wire is None:
        return Usage()
    details = wire.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    return Usage(wire.prompt_tokens, wire.completion_tokens, cached)
