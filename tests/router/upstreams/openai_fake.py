"""A fake OpenAI-compatible chat-completions API (`POST /v1/chat/completions`).

It checks what a real server would reject (a tool message answering no earlier tool call, a
forced function that is not among the tools), answers deterministically from the request, and
streams the way OpenAI does: a role chunk, content or tool-call pieces, a finish chunk, the
usage chunk with no choices when `stream_options.include_usage` is set, then `[DONE]` (or, with
`usage_on_last_chunk`, the finish reason and usage on the last piece, as some compatible servers
send them).
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

PREFIX = "fake-openai"
FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool": "tool_calls"}


def fake_openai_app(control: FakeUpstreamControl) -> Starlette:
    dialect = Dialect(
        key_of=_bearer,
        error_body=_error_body,
        check=_check,
        answer=_completion,
        events=_events,
        stream_end="data: [DONE]\n\n",
        error_event=_frame({"error": {"message": "injected stream failure", "type": "server"}}),
        malformed_event="data: {not json\n\n",
    )
    route = Route("/v1/chat/completions", endpoint(control, dialect), methods=["POST"])
    return Starlette(routes=[route])


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    return value.removeprefix("Bearer ") if value else None


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "fake_error", "code": status}}


def _check(request: Request, body: dict[str, Any]) -> str | None:
    called: set[str] = set()
    for message in body.get("messages", []):
        for call in message.get("tool_calls") or []:
            called.add(call["id"])
        if message["role"] == "tool" and message.get("tool_call_id") not in called:
            return "a tool message must answer an earlier tool call"
    forced = _forced(body)
    names = [tool["function"]["name"] for tool in body.get("tools", [])]
    if forced is not None and forced not in names:
        return f"tool_choice names an unknown function {forced!r}"
    return None


def _forced(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice")
    tools = body.get("tools") or []
    if choice == "required" and tools:
        return str(tools[0]["function"]["name"])
    if isinstance(choice, dict):
        return str(choice["function"]["name"])
    return None


def _question(body: dict[str, Any]) -> Question:
    messages = body["messages"]
    tail = [m for m in messages if m["role"] in ("user", "tool")][-1:]
    answers_tool = messages[-1]["role"] == "tool"
    if answers_tool:
        results: list[str] = []
        for message in reversed(messages):
            if message["role"] != "tool":
                break
            results.insert(0, message["content"])
        last = " | ".join(results)
    else:
        last = tail[0]["content"] if tail else ""
    stop = body.get("stop") or ()
    return Question(
        last_text=last,
        answers_tool=answers_tool,
        input_words=sum(words(m.get("content") or "") for m in messages),
        forced_tool=_forced(body),
        max_tokens=body.get("max_tokens"),
        stop=tuple([stop] if isinstance(stop, str) else stop),
    )


def _usage(reply: Answer, control: FakeUpstreamControl) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_words,
        "completion_tokens": reply.output_words,
        "total_tokens": reply.input_words + reply.output_words,
        "prompt_tokens_details": {"cached_tokens": control.cached_tokens},
    }


def _completion(body: dict[str, Any], control: FakeUpstreamControl) -> dict[str, Any]:
    reply = answer(PREFIX, _question(body))
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_use is not None:
        use = reply.tool_use
        function = {"name": use.name, "arguments": use.arguments_json}
        message["tool_calls"] = [{"id": use.id, "type": "function", "function": function}]
    return {
        "id": reply.id,
        "object": "chat.completion",
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": FINISH[reply.finish]}],
        "usage": _usage(reply, control),
    }


def _events(body: dict[str, Any], control: FakeUpstreamControl) -> list[str]:
    reply = answer(PREFIX, _question(body))
    deltas = [{"role": "assistant", "content": ""}, *_deltas(reply)]
    asked = (body.get("stream_options") or {}).get("include_usage")
    usage = _usage(reply, control) if asked and not control.ignore_include_usage else None
    finish = FINISH[reply.finish]

    def chunk(delta: dict[str, Any], finish: str | None = None, with_usage: bool = False) -> str:
        envelope = _chunk_envelope(
            reply, body, [{"index": 0, "delta": delta, "finish_reason": finish}]
        )
        envelope["usage"] = usage if with_usage else None
        return _frame(envelope)

    if control.usage_on_last_chunk:
        last = chunk(deltas[-1], finish, with_usage=True)
        return [*(chunk(delta) for delta in deltas[:-1]), last, "data: [DONE]\n\n"]
    frames = [*(chunk(delta) for delta in deltas), chunk({}, finish)]
    if usage is not None:
        usage_chunk = _chunk_envelope(reply, body, [])
        usage_chunk["usage"] = usage
        frames.append(_frame(usage_chunk))
    frames.append("data: [DONE]\n\n")
    return frames


def _deltas(reply: Answer) -> list[dict[str, Any]]:
    """The answer's pieces after the role: tool-call pieces, or content a word at a time."""
    if reply.tool_use is None:
        return [{"content": piece} for piece in text_pieces(reply.text)]
    use = reply.tool_use
    function = {"name": use.name, "arguments": ""}
    start = {"index": 0, "id": use.id, "type": "function", "function": function}
    arguments = use.arguments_json
    half = len(arguments) // 2
    pieces = [
        {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        for piece in (arguments[:half], arguments[half:])
    ]
    return [{"tool_calls": [start]}, *pieces]


def _chunk_envelope(reply: Answer, body: dict[str, Any], choices: list[Any]) -> dict[str, Any]:
    return {
        "id": reply.id,
        "object": "chat.completion.chunk",
        "model": body["model"],
        "choices": choices,
        "usage": None,
    }


def _frame(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"
