"""Stored prompts in a chat completion: the request names a prompt, the gateway renders it.

A chat completion body may carry, beside or instead of OpenAI's own fields, a `prompt` object
(an OpenAI SDK sends it with `extra_body={"prompt": {...}}`):

    "prompt": {
        "name": "support/greeting",          required
        "label": "production",                or "version": 3; neither: the label `production`
        "variables": {"customer": "Ada"},     the template's variables
        "placeholders": {"history": [...]}    messages for a chat template's placeholders
    }

The prompt service renders it (`RenderPrompt`), and the body the pipeline goes on with is
the caller's body with:

- `messages`: the rendered messages, then the request's own `messages` if it has any (so a
  stored system prompt can lead a conversation the caller carries). A text prompt renders to
  one `user` message.
- the version's model parameters (its config) for every OpenAI parameter the request does not
  set itself: the request's own parameters win. Only OpenAI's chat parameters are taken from a
  config (`CONFIG_PARAMETERS`); other keys a config may hold are the prompt author's notes.

The result names the prompt and version, which ride in the router's `CallContext` to the usage
event, so the cost service reports spend per prompt version. Rendering happens before the
admission checks, not beside them: the tokens reserved against the rate limit, and the model
a budget is priced by, both depend on the rendered prompt.

Errors are the prompt service's, mapped like every gRPC error (a missing variable is a 400
naming `prompt.variables.<name>`, an unknown prompt or label a 404); a `prompt` that is not an
object of the documented shape is a 400 before any call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format
from switchboard.prompts.v1 import prompts_pb2
from switchboard.prompts.v1 import prompts_service_pb2 as pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from gateway.openai.errors import OpenAIError, from_rpc_error, invalid_request
from gateway.openai.structs import struct_param

CONFIG_PARAMETERS = (
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "tools",
    "tool_choice",
    "response_format",
)
"""The keys of a version's config that are applied to a request that does not set them."""

_PROMPT_FIELDS = frozenset({"name", "label", "version", "variables", "placeholders"})


@dataclass(frozen=True)
class PromptUse:
    """Which stored prompt a request was built from."""

    name: str
    version: int


class StoredPrompts:
    def __init__(self, stub: pb_grpc.PromptServiceStub, timeout_seconds: float = 5.0) -> None:
        self._stub = stub
        self._timeout = timeout_seconds

    async def apply(self, body: object) -> tuple[object, PromptUse | None]:
        """The body with its `prompt` rendered in, and the prompt used; unchanged without one."""
        if not isinstance(body, Mapping) or body.get("prompt") is None:
            return body, None
        request = render_request(body["prompt"])
        try:
            rendered: pb.RenderPromptResponse = await self._stub.RenderPrompt(
                request, timeout=self._timeout
            )
        except grpc.aio.AioRpcError as error:
            raise _prompt_error(from_rpc_error(error)) from None
        return merged_body(body, rendered), PromptUse(rendered.name, rendered.version)


def render_request(value: object) -> pb.RenderPromptRequest:
    """The RenderPrompt request for a body's `prompt`; a 400 naming the field when malformed."""
    if not isinstance(value, Mapping):
        raise invalid_request("Invalid type for 'prompt': expected an object.", "prompt")
    unknown = sorted(set(value) - _PROMPT_FIELDS)
    if unknown:
        raise invalid_request(f"Unknown field 'prompt.{unknown[0]}'.", f"prompt.{unknown[0]}")
    name, label, version = value.get("name"), value.get("label"), value.get("version")
    _expect(isinstance(name, str) and bool(name), "prompt.name", "a non-empty string")
    _expect(label is None or isinstance(label, str), "prompt.label", "a string")
    valid_version = isinstance(version, int) and not isinstance(version, bool) and version > 0
    _expect(version is None or valid_version, "prompt.version", "a positive integer")
    if label is not None and version is not None:
        raise invalid_request("Give 'prompt.label' or 'prompt.version', not both.", "prompt")
    request = pb.RenderPromptRequest(name=str(name), label=label or "", version=version or 0)
    variables = value.get("variables")
    if variables is not None:
        _expect(isinstance(variables, Mapping), "prompt.variables", "an object")
        request.variables.CopyFrom(struct_param(variables, "prompt.variables"))
    for placeholder, messages in _placeholders(value.get("placeholders")).items():
        request.placeholders[placeholder].CopyFrom(messages)
    return request


def _placeholders(value: object) -> dict[str, prompts_pb2.MessageList]:
    if value is None:
        return {}
    _expect(isinstance(value, Mapping), "prompt.placeholders", "an object")
    assert isinstance(value, Mapping)
    found: dict[str, prompts_pb2.MessageList] = {}
    for name, messages in value.items():
        where = f"prompt.placeholders.{name}"
        _expect(isinstance(messages, list), where, "an array of messages")
        found[str(name)] = prompts_pb2.MessageList(
            messages=[_message(item, f"{where}[{i}]") for i, item in enumerate(messages)]
        )
    return found


def _message(value: object, where: str) -> prompts_pb2.ChatMessage:
    _expect(isinstance(value, Mapping), where, "an object")
    assert isinstance(value, Mapping)
    role, content = value.get("role"), value.get("content")
    _expect(isinstance(role, str), f"{where}.role", "a string")
    _expect(isinstance(content, str), f"{where}.content", "a string")
    name = value.get("name")
    _expect(name is None or isinstance(name, str), f"{where}.name", "a string")
    return prompts_pb2.ChatMessage(role=str(role), content=str(content), name=name or "")


def merged_body(body: Mapping[str, Any], rendered: pb.RenderPromptResponse) -> dict[str, Any]:
    """The request body the rendered prompt makes (see the module's docstring)."""
    merged = {key: value for key, value in body.items() if key != "prompt"}
    leading = [_openai_message(m) for m in rendered.messages]
    if rendered.type == prompts_pb2.PROMPT_TYPE_TEXT:
        leading = [{"role": "user", "content": rendered.text}]
    own = body.get("messages")
    merged["messages"] = leading + (list(own) if isinstance(own, list) else [])
    config: dict[str, Any] = json_format.MessageToDict(rendered.config)
    for key in CONFIG_PARAMETERS:
        if merged.get(key) is None and config.get(key) is not None:
            merged[key] = _whole_numbers(config[key])
    return merged


def _openai_message(message: prompts_pb2.ChatMessage) -> dict[str, str]:
    found = {"role": message.role, "content": message.content}
    if message.name:
        found["name"] = message.name
    return found


def _whole_numbers(value: Any) -> Any:
    """A Struct holds every number as a double; 256.0 goes back to the integer it was."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    return value


def _prompt_error(error: OpenAIError) -> OpenAIError:
    """The prompt service names its own fields (`variables.x`); the caller wrote `prompt.`."""
    if error.param and not error.param.startswith("prompt"):
        error.param = f"prompt.{error.param}"
    return error


def _expect(ok: bool, param: str, expected: str) -> None:
    if not ok:
        raise invalid_request(
            f"Invalid type for '{param}': expected {expected}.", param, "invalid_type"
        )


__all__ = ["CONFIG_PARAMETERS", "PromptUse", "StoredPrompts", "merged_body", "render_request"]
