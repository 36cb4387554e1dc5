"""The router's answers in OpenAI's JSON shapes: `chat.completion`, `chat.completion.chunk`,
and the `list` of `model` objects.

The shapes follow what api.openai.com sends, field for field where the official SDKs parse it:
`system_fingerprint` and `logprobs` are null, a message that only calls tools has `content: null`,
and `usage` carries `prompt_tokens_details.cached_tokens` (the provider's prompt cache).

Streams: `ChunkTranslator` keeps the little state a stream needs. The first delta of each choice
carries `role: "assistant"` (added when the router's first delta did not say it); a tool call's
`id`, `type` and function `name` appear only on its first delta, later deltas carry pieces of
`arguments` by `index`. With `stream_options.include_usage`, every chunk has `usage: null` and a
last chunk with empty `choices` carries the usage, as OpenAI does; without it `usage` is omitted.
A chunk's `id`, `created` and `model` stay those of the stream's first chunk, so a client that
groups chunks by id sees one completion.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

from switchboard.router.v1 import router_service_pb2 as pb

OWNED_BY = "switchboard"
Json = dict[str, Any]


def chat_completion(response: pb.CompleteResponse, clock: Callable[[], float] = time.time) -> Json:
    """A `chat.completion` object; `clock` dates it when the router did not."""
    return {
        "id": response.id,
        "object": "chat.completion",
        "created": _created(response.created, clock),
        "model": response.model,
        "choices": [_choice(choice) for choice in response.choices],
        "usage": usage(response.usage),
        "system_fingerprint": None,
    }


def _choice(choice: pb.Choice) -> Json:
    return {
        "index": choice.index,
        "message": _message(choice.message),
        "logprobs": None,
        "finish_reason": choice.finish_reason or None,
    }


def _message(message: pb.ChatMessage) -> Json:
    body: Json = {
        "role": message.role or "assistant",
        "content": message.content,
        "refusal": None,
    }
    if message.tool_calls:
        body["content"] = message.content or None
        body["tool_calls"] = [_tool_call(call) for call in message.tool_calls]
    return body


def _tool_call(call: pb.ToolCall) -> Json:
    return {
        "id": call.id,
        "type": call.type or "function",
        "function": {"name": call.function.name, "arguments": call.function.arguments},
    }


def usage(counts: pb.Usage) -> Json:
    """OpenAI's usage object from the router's token counts."""
    # OpenAI's prompt_tokens is all the input the model read, cached and cache-creation tokens
    # included; the router keeps cache writes apart (they are priced apart).
    prompt = counts.input_tokens + counts.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": counts.output_tokens,
        "total_tokens": prompt + counts.output_tokens,
        "prompt_tokens_details": {"cached_tokens": counts.cached_tokens},
    }


def _created(stamp: Any, clock: Callable[[], float]) -> int:
    seconds = int(stamp.seconds)
    return seconds if seconds > 0 else int(clock())


class ChunkTranslator:
    """Turns the router's stream, chunk by chunk, into `chat.completion.chunk` objects."""

    def __init__(self, include_usage: bool, clock: Callable[[], float] = time.time) -> None:
        self.include_usage = include_usage
        self._clock = clock
        self._head: Json | None = None
        self._roles_sent: set[int] = set()
        self._calls_started: set[tuple[int, int]] = set()

    def translate(self, chunk: pb.StreamCompleteResponse) -> list[Json]:
        """The chunks to send for one router chunk: zero, one, or a choices and a usage chunk."""
        head = self._head_of(chunk)
        out: list[Json] = []
        if chunk.choices:
            out.append(self._chunk(head, [self._delta(c) for c in chunk.choices]))
        if chunk.HasField("usage") and self.include_usage:
            out.append({**self._chunk(head, []), "usage": usage(chunk.usage)})
        return out

    def _head_of(self, chunk: pb.StreamCompleteResponse) -> Json:
        if self._head is None:
            self._head = {
                "id": chunk.id,
                "object": "chat.completion.chunk",
                "created": _created(chunk.created, self._clock),
                "model": chunk.model,
                "system_fingerprint": None,
            }
        return self._head

    def _chunk(self, head: Json, choices: list[Json]) -> Json:
        body = {**head, "choices": choices}
        if self.include_usage:
            body["usage"] = None
        return body

    def _delta(self, choice: pb.ChoiceDelta) -> Json:
        delta: Json = {}
        message = choice.delta
        first = choice.index not in self._roles_sent
        if first:
            self._roles_sent.add(choice.index)
            delta["role"] = message.role or "assistant"
            delta["content"] = message.content or (None if message.tool_calls else "")
        elif message.content:
            delta["content"] = message.content
        if message.tool_calls:
            delta["tool_calls"] = [self._call_delta(choice.index, c) for c in message.tool_calls]
        return {
            "index": choice.index,
            "delta": delta,
            "logprobs": None,
            "finish_reason": choice.finish_reason or None,
        }

    def _call_delta(self, choice_index: int, call: pb.ToolCall) -> Json:
        key = (choice_index, call.index)
        function: Json = {"arguments": call.function.arguments}
        body: Json = {"index": call.index, "function": function}
        if key not in self._calls_started:
            self._calls_started.add(key)
            body["id"] = call.id
            body["type"] = call.type or "function"
            function["name"] = call.function.name
        return body


def model_list(response: pb.ListModelsResponse, created: int = 0) -> Json:
    """OpenAI's `list` of `model` objects from the router's catalogue.

    The catalogue records no creation time, so every model has `created` (the gateway may pass
    its start time; 0 otherwise).
    """
    return {
        "object": "list",
        "data": [
            {"id": model.name, "object": "model", "created": created, "owned_by": OWNED_BY}
            for model in response.models
        ],
    }


async def translate_stream(
    stream: AsyncIterable[pb.StreamCompleteResponse],
    include_usage: bool,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[Json]:
    """The router's stream as OpenAI chunk objects, ready for `sse.sse_frames`."""
    translator = ChunkTranslator(include_usage, clock)
    async for chunk in stream:
        for body in translator.translate(chunk):
            yield body
