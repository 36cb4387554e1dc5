"""The provider for Anthropic's Messages API (`POST {base_url}/messages`).

The router speaks OpenAI's shape; `anthropic_wire` translates requests and answers and
`anthropic_stream` translates the streaming events, so callers never see the difference. The key
goes in `x-api-key` (sent only when the deployment names one, e.g. not behind a keyless proxy),
with the pinned `anthropic-version: 2023-06-01`.

The provider shares the registry's `httpx.AsyncClient` and does not own it: `aclose()` leaves
it open.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

import httpx

from services.router.chat import Completion, StreamChunk
from services.router.providers.anthropic_stream import AnthropicStreamTranslator
from services.router.providers.anthropic_wire import parse_message, request_body
from services.router.providers.base import ProviderError, UpstreamCall
from services.router.providers.upstream_http import (
    HttpTarget,
    open_stream,
    post_json,
    server_sent_events,
)

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider:
    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], float] = time.time) -> None:
        """`clock` is the wall clock, read only to turn a Retry-After date into seconds."""
        self._client = client
        self._clock = clock

    async def complete(self, call: UpstreamCall) -> Completion:
        answer = await post_json(self._client, _target(call, stream=False), call, self._clock)
        return parse_message(call.deployment.name, answer)

    async def stream(self, call: UpstreamCall) -> AsyncGenerator[StreamChunk, None]:
        name = call.deployment.name
        translator = AnthropicStreamTranslator(name, call.api_key)
        async with (
            open_stream(self._client, _target(call, stream=True), call, self._clock) as response,
            aclosing(server_sent_events(response)) as events,
        ):
            async for event in events:
                for chunk in translator.feed(event.data):
                    yield chunk
                if translator.finished:
                    return
        raise ProviderError(f"{name}: upstream stream ended before message_stop", retryable=True)

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the registry."""


def _target(call: UpstreamCall, *, stream: bool) -> HttpTarget:
    deployment = call.deployment
    headers = {
        "anthropic-version": ANTHROPIC_VERSION,
        "accept": "text/event-stream" if stream else "application/json",
    }
    if call.api_key is not None:
        headers["x-api-key"] = call.api_key
    return HttpTarget(
        url=f"{deployment.base_url.rstrip('/')}/messages",
        headers=headers,
        body=request_body(call.request, deployment.upstream_model, stream=stream),
    )
