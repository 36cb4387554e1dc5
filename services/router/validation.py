"""Checks a chat request before anything is routed: every bad field reported at once.

The limits follow OpenAI's API where it has one (temperature 0-2, top_p 0-1, at most four stop
sequences, tool names of 1-64 letters, digits, `_` or `-`), so a request the gateway accepts is
one an OpenAI-compatible upstream accepts too. An unknown model is NOT_FOUND, decided later by
the catalogue.
"""

from __future__ import annotations

import json
import re
import uuid

from services.router.chat import ChatRequest, Message, Tool
from svckit.errors import Violations

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
TOOL_CHOICES = frozenset({"auto", "none", "required"})
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The cost ledger's own pattern (services/cost/usage_validation.py): keep the two equal.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_MESSAGES = 10_000
MAX_STOP = 4
MAX_MODEL_NAME = 200


def validate_chat_request(request: ChatRequest, max_ttl_seconds: float) -> None:
    """Raise InvalidArgument listing every problem of `request`."""
    v = Violations()
    v.check(0 < len(request.model) <= MAX_MODEL_NAME, "model", "must name a model")
    _check_messages(v, request.messages)
    _check_tools(v, request)
    _check_sampling(v, request)
    ttl = request.cache.ttl_seconds
    if ttl is not None:
        v.check(0 < ttl <= max_ttl_seconds, "cache.ttl", f"must be in (0, {max_ttl_seconds:g}] s")
    request_id = request.context.request_id
    if request_id:
        v.check(
            bool(REQUEST_ID.match(request_id)), "context.request_id", "1-128 of [A-Za-z0-9._:-]"
        )
    v.raise_if_any()


def ledger_request_id(candidate: str) -> str:
    """`candidate` if the cost ledger accepts it as a request id, else a fresh one."""
    return candidate if REQUEST_ID.match(candidate) else uuid.uuid4().hex


def _check_messages(v: Violations, messages: tuple[Message, ...]) -> None:
    if not messages:
        v.add("messages", "must hold at least one message")
    v.check(len(messages) <= MAX_MESSAGES, "messages", f"at most {MAX_MESSAGES} messages")
    for i, message in enumerate(messages[:MAX_MESSAGES]):
        where = f"messages[{i}]"
        if message.role not in ROLES:
            v.add(f"{where}.role", f"must be one of {', '.join(sorted(ROLES))}")
        if message.role == "tool" and not message.tool_call_id:
            v.add(f"{where}.tool_call_id", "a tool message must name the call it answers")
        if message.tool_calls and message.role != "assistant":
            v.add(f"{where}.tool_calls", "only an assistant message carries tool calls")
        for j, call in enumerate(message.tool_calls):
            call_at = f"{where}.tool_calls[{j}]"
            v.check(bool(call.id), f"{call_at}.id", "must not be empty")
            v.check(
                bool(TOOL_NAME.match(call.function.name)),
                f"{call_at}.function.name",
                "1-64 of [A-Za-z0-9_-]",
            )
            if not _is_json_object(call.function.arguments):
                v.add(f"{call_at}.function.arguments", "must be a JSON object")


def _check_tools(v: Violations, request: ChatRequest) -> None:
    names: set[str] = set()
    for i, tool in enumerate(request.tools):
        _check_tool(v, f"tools[{i}]", tool, names)
    choice = request.tool_choice
    if choice and choice not in TOOL_CHOICES:
        if choice not in names:
            v.add("tool_choice", "must be auto, none, required or the name of a given tool")
    elif choice == "required" and not request.tools:
        v.add("tool_choice", "required needs at least one tool")


def _check_tool(v: Violations, where: str, tool: Tool, names: set[str]) -> None:
    v.check(tool.type == "function", f"{where}.type", 'must be "function"')
    name = tool.function.name
    if not TOOL_NAME.match(name):
        v.add(f"{where}.function.name", "1-64 of [A-Za-z0-9_-]")
    elif name in names:
        v.add(f"{where}.function.name", f"{name} is declared twice")
    names.add(name)
    schema_type = tool.function.parameters.get("type")
    if tool.function.parameters and schema_type != "object":
        v.add(f"{where}.function.parameters", 'must be a JSON Schema of "type": "object"')


def _check_sampling(v: Violations, request: ChatRequest) -> None:
    s = request.sampling
    if s.temperature is not None:
        v.check(0 <= s.temperature <= 2, "temperature", "must be between 0 and 2")
    if s.top_p is not None:
        v.check(0 <= s.top_p <= 1, "top_p", "must be between 0 and 1")
    if s.max_tokens is not None:
        v.check(s.max_tokens >= 1, "max_tokens", "must be at least 1")
    v.check(len(s.stop) <= MAX_STOP, "stop", f"at most {MAX_STOP} sequences")
    v.check(all(s.stop), "stop", "sequences must not be empty")


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
