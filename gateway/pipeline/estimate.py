"""How many tokens a chat completion may use, before it runs.

Input: about four characters per token (OpenAI's rule of thumb for English), over every text
the model reads (contents, names, tool calls, tool definitions), plus a few tokens of framing
per message. Output: the request's `max_tokens`, or the gateway's configured estimate. The
estimate is only a reservation: the rate limiter replaces it with the real count when the call
ends, so a rough figure costs a little headroom for a moment, never accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from google.protobuf import json_format
from switchboard.router.v1 import router_service_pb2 as pb

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True)
class TokenEstimate:
    input_tokens: int
    max_output_tokens: int
    """The request's own limit; 0 when it set none (the cost service then assumes its own)."""
    output_tokens: int
    """What the rate-limit reservation counts for the output."""

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


def estimate_tokens(request: pb.CompleteRequest, default_output: int) -> TokenEstimate:
    chars = sum(message_chars(message) for message in request.messages)
    chars += sum(_tool_chars(tool) for tool in request.tools)
    input_tokens = tokens_of(chars) + TOKENS_PER_MESSAGE * len(request.messages)
    limit = request.max_tokens if request.HasField("max_tokens") else 0
    return TokenEstimate(input_tokens, limit, limit or default_output)


def tokens_of(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def message_chars(message: pb.ChatMessage) -> int:
    """The characters a model reads or writes in `message` (a whole message or a delta)."""
    calls = sum(len(c.function.name) + len(c.function.arguments) for c in message.tool_calls)
    return len(message.role) + len(message.content) + len(message.name) + calls


def _tool_chars(tool: pb.Tool) -> int:
    function = tool.function
    parameters = json_format.MessageToJson(function.parameters, indent=None)
    return len(function.name) + len(function.description) + len(parameters)


__all__ = ["CHARS_PER_TOKEN", "TokenEstimate", "estimate_tokens", "message_chars", "tokens_of"]
