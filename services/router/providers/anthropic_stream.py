"""Anthropic's streaming events, translated into OpenAI-shaped chunks as they arrive.

    message_start         -> a chunk with the assistant role (input usage remembered)
    content_block_start   -> tool_use: a tool-call delta with id and name (text: its text, if any)
    content_block_delta   -> text_delta: content; input_json_delta: a piece of the arguments
    message_delta         -> a chunk with the finish reason (output usage remembered)
    message_stop          -> the last chunk: no choices, the usage
    ping, content_block_stop, unknown events -> nothing (Anthropic may add event types)
    error                 -> ProviderError (overloaded, api and rate-limit errors retryable)

A tool call's `index` is its position among the message's tool calls (OpenAI's meaning), not
Anthropic's content-block index, which counts text blocks too.
"""

from __future__ import annotations

import pydantic
from pydantic import BaseModel

from services.router.chat import ChoiceDelta, FunctionCall, Message, StreamChunk, ToolCall
from services.router.providers.anthropic_wire import WireUsage, finish_reason, to_usage
from services.router.providers.base import ProviderError
from services.router.providers.http_errors import bad_response, sanitize_snippet

# Anthropic's error types that another attempt may get past, with the router's reason.
RETRYABLE_ERRORS = {
    "overloaded_error": "UPSTREAM_ERROR",
    "api_error": "UPSTREAM_ERROR",
    "timeout_error": "UPSTREAM_TIMEOUT",
    "rate_limit_error": "UPSTREAM_RATE_LIMITED",
}


class _Lenient(BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class _Start(_Lenient):
    id: str = ""
    model: str = ""
    usage: WireUsage = WireUsage()


class _Block(_Lenient):
    type: str = ""
    text: str = ""
    id: str = ""
    name: str = ""


class _Delta(_Lenient):
    type: str = ""
    text: str = ""
    partial_json: str = ""
    stop_reason: str | None = None


class _Error(_Lenient):
    type: str = ""
    message: str = ""


class _Event(_Lenient):
    type: str
    index: int = 0
    message: _Start | None = None
    content_block: _Block | None = None
    delta: _Delta | None = None
    usage: WireUsage | None = None
    error: _Error | None = None


class AnthropicStreamTranslator:
    """Feed it each event's data in order; it returns the chunks to pass on."""

    def __init__(self, deployment: str, api_key: str | None) -> None:
        self._deployment = deployment
        self._api_key = api_key
        self._id = ""
        self._model = ""
        self._usage = WireUsage()
        self._tool_index: dict[int, int] = {}
        self.finished = False
        """True once message_stop arrived: a stream that ends before it was cut short."""

    def feed(self, data: str) -> list[StreamChunk]:
        try:
            event = _Event.model_validate_json(data)
        except pydantic.ValidationError:
            raise bad_response(self._deployment, "stream event is not an Anthropic event") from None
        match event.type:
            case "message_start":
                return self._on_message_start(event)
            case "content_block_start":
                return self._on_content_block_start(event)
            case "content_block_delta":
                return self._on_content_block_delta(event)
            case "message_delta":
                return self._on_message_delta(event)
            case "message_stop":
                return self._on_message_stop()
            case "error":
                raise self._error(event)
            case _:
                return []

    def _on_message_start(self, event: _Event) -> list[StreamChunk]:
        start = event.message or _Start()
        self._id, self._model, self._usage = start.id, start.model, start.usage
        return [self._chunk(Message(role="assistant"))]

    def _on_content_block_start(self, event: _Event) -> list[StreamChunk]:
        block = event.content_block or _Block()
        if block.type == "tool_use":
            index = self._tool_index[event.index] = len(self._tool_index)
            call = ToolCall(id=block.id, function=FunctionCall(block.name, ""), index=index)
            return [self._chunk(Message(role="", tool_calls=(call,)))]
        if block.type == "text" and block.text:
            return [self._chunk(Message(role="", content=block.text))]
        return []

    def _on_content_block_delta(self, event: _Event) -> list[StreamChunk]:
        delta = event.delta or _Delta()
        if delta.type == "text_delta":
            return [self._chunk(Message(role="", content=delta.text))]
        if delta.type == "input_json_delta" and event.index in self._tool_index:
            piece = FunctionCall("", delta.partial_json)
            call = ToolCall(id="", function=piece, index=self._tool_index[event.index])
            return [self._chunk(Message(role="", tool_calls=(call,)))]
        return []

    def _on_message_delta(self, event: _Event) -> list[StreamChunk]:
        if event.usage is not None:
            update = event.usage.model_dump(exclude_none=True)
            self._usage = self._usage.model_copy(update=update)
        reason = finish_reason(event.delta.stop_reason if event.delta else None)
        return [self._chunk(Message(role=""), finish=reason)]

    def _on_message_stop(self) -> list[StreamChunk]:
        self.finished = True
        usage = to_usage(self._usage)
        return [StreamChunk(id=self._id, usage=usage, upstream_model=self._model)]

    def _error(self, event: _Event) -> ProviderError:
        error = event.error or _Error()
        snippet = sanitize_snippet(f"{error.type}: {error.message}", self._api_key)
        message = f"{self._deployment}: upstream failed mid-stream: {snippet}"
        reason = RETRYABLE_ERRORS.get(error.type)
        if reason is None:
            return ProviderError(message, retryable=False, reason="UPSTREAM_REJECTED")
        return ProviderError(message, retryable=True, reason=reason)

    def _chunk(self, delta: Message, finish: str = "") -> StreamChunk:
        choice = ChoiceDelta(index=0, delta=delta, finish_reason=finish)
        return StreamChunk(id=self._id, choices=(choice,), upstream_model=self._model)
