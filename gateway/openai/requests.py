"""An OpenAI chat completions body, parsed and checked, as the router's `CompleteRequest`.

The gateway accepts what OpenAI's `POST /v1/chat/completions` accepts, so an unchanged OpenAI
client works, and turns it into `switchboard.router.v1.CompleteRequest`. Every problem is an
`OpenAIError` 400 whose `param` names the field (`messages[1].content[0].type`), never a 500.
The first problem found is reported, as OpenAI does.

Decisions:
- Shapes and types are checked here; OpenAI's value ranges (temperature 0-2, top_p 0-1, at most
  four stop sequences, positive max_tokens) too, because they cost nothing and spare a
  rate-limit reservation for a request the router would refuse. Deeper rules (tool names, that a
  tool message names its call, that a forced tool exists) are the router's, which answers
  INVALID_ARGUMENT with field violations that map to the same 400.
- `null` means absent for every optional field, as in OpenAI's API. Unknown fields are ignored
  (frequency_penalty, logit_bias, parallel_tool_calls, metadata, store, ...).
- Content may be a string or an array of text parts; the parts' texts are concatenated without
  a separator (they are one message to the model). Non-text parts (images, audio, files) are
  refused with code `unsupported_value`: the router's messages carry text only.
- `n` other than 1 is refused (`unsupported_value`): the router produces one choice.
- `response_format` `{"type": "text"}` is accepted; `json_object` and `json_schema` are refused
  (`unsupported_value`) because the router's contract has no structured-output field yet, and
  silently ignoring them would hand non-JSON to a caller that relies on JSON.
- The deprecated `functions` and `function_call` become `tools` and `tool_choice`; a role
  "function" message is refused with a hint to use tools, since it has no call id to answer.
- Both `max_tokens` and `max_completion_tokens` set is refused, as OpenAI does; either one
  becomes the router's `max_tokens`.
- `stream_options` without `stream: true` is refused, as OpenAI does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from switchboard.router.v1 import router_service_pb2 as pb

from gateway.openai.errors import OpenAIError, invalid_request
from gateway.openai.structs import struct_param

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
TOOL_CHOICE_MODES = frozenset({"none", "auto", "required"})
MAX_STOP = 4
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ENDPOINT = "/v1/chat/completions"


@dataclass(frozen=True)
class ChatCompletionCall:
    """A parsed chat completion: the router's request plus what only the gateway acts on."""

    request: pb.CompleteRequest
    stream: bool
    include_usage: bool
    user: str | None

    def stream_request(self) -> pb.StreamCompleteRequest:
        return pb.StreamCompleteRequest(request=self.request)


def parse_chat_completion(
    body: object, context: pb.CallContext | None = None
) -> ChatCompletionCall:
    """Parse a decoded JSON body; `context` (request id, tenant, subject) is the gateway's."""
    if not isinstance(body, Mapping):
        raise invalid_request("The request body must be a JSON object.", None, "invalid_type")
    fields = _Fields(body, "")
    request = pb.CompleteRequest(
        model=fields.required_str("model"),
        messages=_messages(fields.required("messages")),
    )
    _check_unsupported(fields)
    _tools(fields, request)
    _sampling(fields, request)
    stream = fields.optional_bool("stream") or False
    include_usage = _include_usage(fields, stream)
    request.context.CopyFrom(context or pb.CallContext())
    if not request.context.endpoint:
        request.context.endpoint = ENDPOINT
    return ChatCompletionCall(request, stream, include_usage, fields.optional_str("user"))


class _Fields:
    """Typed reads of one JSON object; errors name the field by its path."""

    def __init__(self, data: Mapping[str, Any], prefix: str) -> None:
        self.data = data
        self.prefix = prefix

    def path(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def required(self, name: str) -> Any:
        value = self.data.get(name)
        if value is None:
            raise invalid_request(
                f"Missing required parameter: '{self.path(name)}'.",
                self.path(name),
                "missing_required_parameter",
            )
        return value

    def required_str(self, name: str) -> str:
        value = self.required(name)
        _expect(isinstance(value, str), self.path(name), "a string")
        return str(value)

    def optional_str(self, name: str) -> str | None:
        value = self.get(name)
        _expect(value is None or isinstance(value, str), self.path(name), "a string")
        return None if value is None else str(value)

    def optional_bool(self, name: str) -> bool | None:
        value = self.get(name)
        _expect(value is None or isinstance(value, bool), self.path(name), "a boolean")
        return None if value is None else bool(value)

    def optional_number(self, name: str, low: float, high: float) -> float | None:
        value = self.get(name)
        if value is None:
            return None
        # Every int is finite, and math.isfinite overflows on one beyond a double's range.
        finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
        _expect(finite and not isinstance(value, bool), self.path(name), "a number")
        if not low <= value <= high:
            raise invalid_request(
                f"'{self.path(name)}' must be between {low:g} and {high:g}.", self.path(name)
            )
        return float(value)

    def optional_int(self, name: str, low: int, high: int) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        _expect(
            isinstance(value, int) and not isinstance(value, bool), self.path(name), "an integer"
        )
        if not low <= value <= high:
            raise invalid_request(
                f"'{self.path(name)}' must be between {low} and {high}.", self.path(name)
            )
        return int(value)

    def optional_object(self, name: str) -> _Fields | None:
        value = self.get(name)
        if value is None:
            return None
        _expect(isinstance(value, Mapping), self.path(name), "an object")
        return _Fields(value, f"{self.path(name)}.")

    def optional_list(self, name: str) -> Sequence[Any] | None:
        value = self.get(name)
        if value is None:
            return None
        _expect(isinstance(value, list), self.path(name), "an array")
        return list(value)


def _expect(ok: bool, param: str, expected: str) -> None:
    if not ok:
        raise invalid_request(
            f"Invalid type for '{param}': expected {expected}.", param, "invalid_type"
        )


def _object_at(value: object, param: str) -> _Fields:
    _expect(isinstance(value, Mapping), param, "an object")
    assert isinstance(value, Mapping)
    return _Fields(value, f"{param}.")


def _unsupported(message: str, param: str) -> OpenAIError:
    return invalid_request(message, param, "unsupported_value")


# messages


def _messages(value: object) -> list[pb.ChatMessage]:
    _expect(isinstance(value, list), "messages", "an array")
    assert isinstance(value, list)
    if not value:
        raise invalid_request("'messages' must hold at least one message.", "messages")
    return [_message(item, f"messages[{i}]") for i, item in enumerate(value)]


def _message(value: object, where: str) -> pb.ChatMessage:
    fields = _object_at(value, where)
    role = fields.required_str("role")
    if role == "function" or fields.get("function_call") is not None:
        raise _unsupported(
            "Legacy function messages are not supported; use tools and tool messages.",
            fields.path("role" if role == "function" else "function_call"),
        )
    if role not in ROLES:
        raise invalid_request(
            f"'{fields.path('role')}' must be one of {', '.join(sorted(ROLES))}.",
            fields.path("role"),
        )
    message = pb.ChatMessage(
        role=role,
        content=_content(fields, role),
        name=fields.optional_str("name") or "",
        tool_call_id=fields.optional_str("tool_call_id") or "",
    )
    calls = fields.optional_list("tool_calls") or []
    message.tool_calls.extend(
        _tool_call(call, fields.path(f"tool_calls[{j}]")) for j, call in enumerate(calls)
    )
    if role == "tool" and not message.tool_call_id:
        fields.required("tool_call_id")
    return message


def _content(fields: _Fields, role: str) -> str:
    value = fields.get("content")
    if value is None:
        if role == "assistant":
            return ""  # an assistant turn that only called tools
        fields.required("content")
    if isinstance(value, str):
        return value
    _expect(isinstance(value, list), fields.path("content"), "a string or an array of parts")
    return "".join(_text_part(part, fields.path(f"content[{i}]")) for i, part in enumerate(value))


def _text_part(value: object, where: str) -> str:
    part = _object_at(value, where)
    kind = part.required_str("type")
    if kind == "refusal":
        return part.required_str("refusal")
    if kind != "text":
        raise _unsupported(f"Content parts of type '{kind}' are not supported.", part.path("type"))
    return part.required_str("text")


def _tool_call(value: object, where: str) -> pb.ToolCall:
    fields = _object_at(value, where)
    kind = fields.optional_str("type") or "function"
    if kind != "function":
        raise _unsupported(f"Tool calls of type '{kind}' are not supported.", fields.path("type"))
    function = _object_at(fields.required("function"), fields.path("function"))
    return pb.ToolCall(
        id=fields.required_str("id"),
        type="function",
        function=pb.FunctionCall(
            name=function.required_str("name"),
            arguments=function.optional_str("arguments") or "",
        ),
    )


# tools


def _tools(fields: _Fields, request: pb.CompleteRequest) -> None:
    tools = fields.optional_list("tools")
    functions = fields.optional_list("functions")
    if tools is not None and functions is not None:
        raise invalid_request("Give 'tools' or the deprecated 'functions', not both.", "functions")
    for i, tool in enumerate(tools or []):
        request.tools.append(_tool(tool, f"tools[{i}]"))
    for i, function in enumerate(functions or []):
        definition = _function_definition(_object_at(function, f"functions[{i}]"))
        request.tools.append(pb.Tool(type="function", function=definition))
    request.tool_choice = _tool_choice(fields)


def _tool(value: object, where: str) -> pb.Tool:
    fields = _object_at(value, where)
    kind = fields.optional_str("type") or "function"
    if kind != "function":
        raise _unsupported(f"Tools of type '{kind}' are not supported.", fields.path("type"))
    function = _object_at(fields.required("function"), fields.path("function"))
    return pb.Tool(type="function", function=_function_definition(function))


def _function_definition(fields: _Fields) -> pb.FunctionDefinition:
    definition = pb.FunctionDefinition(
        name=fields.required_str("name"), description=fields.optional_str("description") or ""
    )
    parameters = fields.optional_object("parameters")
    if parameters is not None:
        definition.parameters.CopyFrom(struct_param(parameters.data, fields.path("parameters")))
    return definition


def _tool_choice(fields: _Fields) -> str:
    if fields.get("tool_choice") is not None:
        return _choice(fields, "tool_choice", nested="function")
    if fields.get("function_call") is not None:
        return _choice(fields, "function_call", nested=None)
    return ""


def _choice(fields: _Fields, name: str, nested: str | None) -> str:
    """A mode string, or the forced function's name from `{"function": {"name": ...}}`."""
    value = fields.get(name)
    if isinstance(value, str):
        if value not in TOOL_CHOICE_MODES:
            raise invalid_request(
                f"'{name}' must be none, auto, required or an object naming a function.", name
            )
        return value
    choice = _object_at(value, name)
    target = _object_at(choice.required(nested), choice.path(nested)) if nested else choice
    return target.required_str("name")


# sampling and the rest


def _sampling(fields: _Fields, request: pb.CompleteRequest) -> None:
    temperature = fields.optional_number("temperature", 0, 2)
    if temperature is not None:
        request.temperature = temperature
    top_p = fields.optional_number("top_p", 0, 1)
    if top_p is not None:
        request.top_p = top_p
    max_tokens = _max_tokens(fields)
    if max_tokens is not None:
        request.max_tokens = max_tokens
    request.stop.extend(_stop(fields))
    seed = fields.optional_int("seed", INT64_MIN, INT64_MAX)
    if seed is not None:
        request.seed = seed


def _max_tokens(fields: _Fields) -> int | None:
    legacy = fields.optional_int("max_tokens", 1, INT32_MAX)
    current = fields.optional_int("max_completion_tokens", 1, INT32_MAX)
    if legacy is not None and current is not None:
        raise invalid_request(
            "Give 'max_completion_tokens' or 'max_tokens', not both.", "max_tokens"
        )
    return current if current is not None else legacy


def _stop(fields: _Fields) -> list[str]:
    value = fields.get("stop")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    stops = fields.optional_list("stop") or []
    for i, item in enumerate(stops):
        _expect(isinstance(item, str), f"stop[{i}]", "a string")
    if len(stops) > MAX_STOP:
        raise invalid_request(f"'stop' holds at most {MAX_STOP} sequences.", "stop")
    return [str(item) for item in stops]


def _check_unsupported(fields: _Fields) -> None:
    n = fields.optional_int("n", 1, 128)
    if n is not None and n != 1:
        raise _unsupported("Only n=1 is supported.", "n")
    response_format = fields.optional_object("response_format")
    if response_format is not None:
        kind = response_format.required_str("type")
        if kind != "text":
            raise _unsupported(
                f"response_format '{kind}' is not supported; only 'text' is.",
                response_format.path("type"),
            )


def _include_usage(fields: _Fields, stream: bool) -> bool:
    options = fields.optional_object("stream_options")
    if options is None:
        return False
    if not stream:
        raise invalid_request(
            "'stream_options' is only allowed when 'stream' is true.", "stream_options"
        )
    return options.optional_bool("include_usage") or False
