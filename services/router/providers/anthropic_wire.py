"""Anthropic's Messages API wire format, translated to and from the router's OpenAI shape.

Requests:
- system and developer messages are joined (blank line between) into the top-level `system`;
- an assistant message's tool calls become `tool_use` blocks (its JSON arguments parsed into
  `input`), after its text if it has any;
- `tool` messages become `tool_result` blocks in a user message, consecutive results merged into
  one message, as Anthropic expects all results of one turn together;
- `tool_choice` "required" is Anthropic's `any`, a function name is `{"type": "tool"}`; without
  tools no `tool_choice` is sent;
- `max_tokens` is mandatory at Anthropic: a request without one gets DEFAULT_MAX_TOKENS (4096);
- `stop` is `stop_sequences`; `seed` has no Anthropic equivalent and is dropped.

Answers: text blocks are joined into the content, `tool_use` blocks become tool calls with
`json.dumps(input)` as arguments, other blocks (thinking) are left out. Usage: Anthropic counts
cached input apart from `input_tokens`, so the router's `input_tokens` is
input_tokens + cache_read_input_tokens, `cached_tokens` is cache_read_input_tokens and
`cache_write_tokens` is cache_creation_input_tokens, kept out of `input_tokens` because cache
writes are priced on their own (1.25x the input price or more).
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
from pydantic import BaseModel

from services.router.chat import (
    ChatRequest,
    Choice,
    Completion,
    FunctionCall,
    Message,
    ToolCall,
    Usage,
)
from services.router.providers.base import ProviderError
from services.router.providers.http_errors import bad_response

DEFAULT_MAX_TOKENS = 4096
SYSTEM_ROLES = frozenset({"system", "developer"})
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def request_body(request: ChatRequest, upstream_model: str, *, stream: bool) -> dict[str, Any]:
    sampling = request.sampling
    body: dict[str, Any] = {
        "model": upstream_model or request.model,
        "max_tokens": sampling.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _messages(request.messages),
    }
    system = "\n\n".join(m.content for m in request.messages if m.role in SYSTEM_ROLES)
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [
            {
                "name": t.function.name,
                "description": t.function.description,
                "input_schema": dict(t.function.parameters) or {"type": "object"},
            }
            for t in request.tools
        ]
        if request.tool_choice:
            body["tool_choice"] = _tool_choice(request.tool_choice)
    optional = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "stop_sequences": list(sampling.stop) or None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    if stream:
        body["stream"] = True
    return body


def _tool_choice(choice: str) -> dict[str, Any]:
    keywords = {"auto": "auto", "none": "none", "required": "any"}
    if choice in keywords:
        return {"type": keywords[choice]}
    return {"type": "tool", "name": choice}


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    wire: list[dict[str, Any]] = []
    # The blocks of the user message of tool results, while it is the last message.
    results: list[dict[str, Any]] | None = None
    for message in messages:
        if message.role in SYSTEM_ROLES:
            continue
        if message.role == "tool":
            if results is None:
                results = []
                wire.append({"role": "user", "content": results})
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id,
                    "content": message.content,
                }
            )
            continue
        results = None
        if message.role == "assistant" and message.tool_calls:
            wire.append({"role": "assistant", "content": _assistant_blocks(message)})
        else:
            wire.append({"role": message.role, "content": message.content})
    return wire


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": _arguments(call.function.arguments),
            }
        )
    return blocks


def _arguments(arguments: str) -> Any:
    """Anthropic takes the arguments as a JSON object; OpenAI carries them as text."""
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        # The caller's history is wrong, not the upstream: no other attempt would help.
        raise ProviderError(
            "tool call arguments in the conversation are not a JSON object",
            retryable=False,
            reason="UPSTREAM_REJECTED",
        )
    return parsed


class _Lenient(BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class WireUsage(_Lenient):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class _Block(_Lenient):
    type: str
    text: str = ""
    id: str = ""
    name: str = ""
    input: Any = None


class _Message(_Lenient):
    id: str = ""
    model: str = ""
    content: list[_Block]
    stop_reason: str | None = None
    usage: WireUsage = WireUsage()


def to_usage(wire: WireUsage) -> Usage:
    cache_read = wire.cache_read_input_tokens or 0
    return Usage(
        input_tokens=(wire.input_tokens or 0) + cache_read,
        output_tokens=wire.output_tokens or 0,
        cached_tokens=cache_read,
        cache_write_tokens=wire.cache_creation_input_tokens or 0,
    )


def parse_message(deployment: str, answer: dict[str, Any]) -> Completion:
    try:
        wire = _Message.model_validate(answer)
    except pydantic.ValidationError:
        raise bad_response(deployment, "not a message") from None
    text = "".join(block.text for block in wire.content if block.type == "text")
    uses = [block for block in wire.content if block.type == "tool_use"]
    calls = tuple(
        ToolCall(id=b.id, function=FunctionCall(b.name, json.dumps(b.input or {})), index=i)
        for i, b in enumerate(uses)
    )
    message = Message(role="assistant", content=text, tool_calls=calls)
    return Completion(
        id=wire.id,
        choices=(Choice(0, message, finish_reason(wire.stop_reason)),),
        usage=to_usage(wire.usage),
        upstream_model=wire.model,
    )
