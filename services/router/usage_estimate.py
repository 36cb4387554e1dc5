"""A stand-in for the usage an upstream did not report.

Some OpenAI-compatible servers ignore `stream_options.include_usage` and end a stream without a
usage chunk. The call still cost tokens, so rather than record zero we estimate about four
characters per token (the usual figure for English with OpenAI's tokenizers), rounding up. The
estimate is marked in the metrics (`router_usage_estimated_total`) so operators can see how much
of their spend is estimated.
"""

from __future__ import annotations

import json

from services.router.chat import ChatRequest, Completion, Message, Usage

CHARS_PER_TOKEN = 4


def estimate_usage(request: ChatRequest, completion: Completion) -> Usage:
    prompt = sum(_chars(m) for m in request.messages)
    prompt += sum(len(json.dumps(dict(t.function.parameters))) for t in request.tools)
    answer = sum(_chars(choice.message) for choice in completion.choices)
    return Usage(input_tokens=_tokens(prompt), output_tokens=_tokens(answer))


def _chars(message: Message) -> int:
    calls = sum(len(c.function.name) + len(c.function.arguments) for c in message.tool_calls)
    return len(message.content) + calls


def _tokens(chars: int) -> int:
    return -(-chars // CHARS_PER_TOKEN)
