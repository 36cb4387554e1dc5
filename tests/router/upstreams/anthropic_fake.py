"""A fake Anthropic Messages API (`POST /v1/messages`).

It rejects with 400 what the real API rejects and a translation could get wrong: no
`anthropic-version` header, no `max_tokens`, a role other than user/assistant, a `tool_result`
answering no earlier `tool_use`, a `tool_use` input that is not an object, tools without
`input_schema`. Answers are deterministic; a tool answer starts with a short text block, so
content-block indexes and tool-call indexes differ, as they often do at Anthropic.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tests.router.upstreams.answers import Answer, Question, answer, text_pieces, words
from tests.router.upstreams.control import FakeUpstreamControl
from tests.router.upstreams.endpoint import Dialect, endpoint

PREFIX = "fake-anthropic"
STOP_REASONS = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool": "tool_use",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def fake_anthropic_app(control: FakeUpstreamControl) -> Starlette:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    dialect = Dialect(
        key_of=lambda request: request.headers.get("x-api-key"),
        error_body=_error_body,
        check=_check,
        answer=_message,
        events=_events,
        stream_end=_frame({"type": "message_stop"}),
        error_event=_frame(overloaded),
        malformed_event="event: message_start\ndata: {not json\n\n",
    )
    route = Route("/v1/messages", endpoint(control, dialect), methods=["POST"])
    return Starlette(routes=[route])


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _check(request: Request, body: dict[str, Any]) -> str | None:
    if "anthropic-version" not in request.headers:
        return "anthropic-version header is required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: field required"
    if any("input_schema" not in tool for tool in body.get("tools", [])):
        return "tools: input_schema required"
    used: set[str] = set()
    for message in body["messages"]:
        if message["role"] not in ("user", "assistant"):
            return f"messages: unexpected role {message['role']!r}"
        for block in _blocks(message):
            if block["type"] == "tool_use":
                if not isinstance(block["input"], dict):
                    return "tool_use.input must be an object"
                used.add(block["id"])
            if block["type"] == "tool_result" and block["tool_use_id"] not in used:
                return "tool_result answers no earlier tool_use"
    return None


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _question(body: dict[str, Any]) -> Question:
    messages = body["messages"]
    last_blocks = _blocks(messages[-1])
    results = [str(b["content"]) for b in last_blocks if b["type"] == "tool_result"]
    texts = [b["text"] for b in last_blocks if b["type"] == "text"]
    all_text = [body.get("system", "")] + [
        b.get("text") or (b["content"] if b["type"] == "tool_result" else "")
        for message in messages
        for b in _blocks(message)
    ]
    choice = body.get("tool_choice") or {}
    tools = body.get("tools") or []
    forced = {"any": tools[0]["name"] if tools else None, "tool": choice.get("name")}
    return Question(
        last_text=" | ".join(results) if results else " ".join(texts),
        answers_tool=bool(results),
        input_words=sum(words(str(text)) for text in all_text),
        forced_tool=forced.get(choice.get("type", "")),
        max_tokens=body["max_tokens"],
        stop=tuple(body.get("stop_sequences") or ()),
    )


def _preamble(reply: Answer) -> str:
    return f"Calling {reply.tool_use.name}." if reply.tool_use else reply.text


def _usage(reply: Answer, control: FakeUpstreamControl, output: int) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_words,
        "output_tokens": output,
        "cache_read_input_tokens": control.cached_tokens,
        "cache_creation_input_tokens": control.cache_creation_tokens,
    }


def _message(body: dict[str, Any], control: FakeUpstreamControl) -> dict[str, Any]:
    reply = answer(PREFIX, _question(body))
    content: list[dict[str, Any]] = [{"type": "text", "text": _preamble(reply)}]
    if reply.tool_use is not None:
        use = reply.tool_use
        content.append({"type": "tool_use", "id": use.id, "name": use.name, "input": use.arguments})
    return {
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": STOP_REASONS[reply.finish],
        "stop_sequence": None,
        "usage": _usage(reply, control, reply.output_words),
    }


def _events(body: dict[str, Any], control: FakeUpstreamControl) -> list[str]:
    reply = answer(PREFIX, _question(body))
    message = {"id": reply.id, "type": "message", "role": "assistant", "model": body["model"]}
    message |= {"content": [], "stop_reason": None, "usage": _usage(reply, control, 1)}
    frames = [_frame({"type": "message_start", "message": message}), _frame({"type": "ping"})]
    frames += _block(
        0,
        {"type": "text", "text": ""},
        [{"type": "text_delta", "text": piece} for piece in text_pieces(_preamble(reply))],
    )
    if reply.tool_use is not None:
        use = reply.tool_use
        start = {"type": "tool_use", "id": use.id, "name": use.name, "input": {}}
        arguments = use.arguments_json
        half = len(arguments) // 2
        pieces = [arguments[:half], arguments[half:]]
        frames += _block(
            1, start, [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        )
    delta = {"stop_reason": STOP_REASONS[reply.finish], "stop_sequence": None}
    usage = {"output_tokens": reply.output_words}
    frames.append(_frame({"type": "message_delta", "delta": delta, "usage": usage}))
    frames.append(_frame({"type": "message_stop"}))
    return frames


def _block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> list[str]:
    frames = [_frame({"type": "content_block_start", "index": index, "content_block": start})]
    frames += [_frame({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    frames.append(_frame({"type": "content_block_stop", "index": index}))
    return frames


def _frame(payload: dict[str, Any]) -> str:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"
