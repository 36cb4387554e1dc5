"""The provider for any OpenAI-compatible API: OpenAI itself, Together, vLLM, Ollama.

All of them take `POST {base_url}/chat/completions`; the deployment's `base_url` carries the
version prefix (`https://api.openai.com/v1`, `http://localhost:11434/v1`). The key is sent as a
bearer token only when the deployment names one, since local servers want none. Streams ask for
`include_usage` so the last chunk carries the usage the router bills; an upstream that ignores
the option ends its stream without usage, and the router has to estimate.

The provider shares the registry's `httpx.AsyncClient` (one connection pool per process) and
does not own it: `aclose()` leaves it open.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

import httpx

from services.router.chat import Completion, StreamChunk
from services.router.providers.base import ProviderError, UpstreamCall
from services.router.providers.openai_wire import parse_chunk, parse_completion, request_body
from services.router.providers.upstream_http import (
    HttpTarget,
    open_stream,
    post_json,
    server_sent_events,
)

DONE = "[DONE]"


class OpenAICompatibleProvider:
    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], float] = time.time) -> None:
        """`clock` is the wall clock, read only to turn a Retry-After date into seconds."""
        self._client = client
        self._clock = clock

    async def complete(self, call: UpstreamCall) -> Completion:
        answer = await post_json(self._client, _target(call, stream=False), call, self._clock)
        return parse_completion(call.deployment.name, answer)

    async def stream(self, call: UpstreamCall) -> AsyncGenerator[StreamChunk, None]:
        name = call.deployment.name
        target = _target(call, stream=True)
        async with (
            open_stream(self._client, target, call, self._clock) as response,
            aclosing(server_sent_events(response)) as events,
        ):
            async for event in events:
                if event.data.strip() == DONE:
                    return
                yield parse_chunk(name, event.data, call.api_key)
        raise ProviderError(f"{name}: upstream stream ended before [DONE]", retryable=True)

    async def aclose(self) -> None:
        """Nothing to release: the client belongs to the registry."""


def _target(call: UpstreamCall, *, stream: bool) -> HttpTarget:
    deployment = call.deployment
    headers = {"accept": "text/event-stream" if stream else "application/json"}
    if call.api_key is not None:
        headers["authorization"] = f"Bearer {call.api_key}"
    return HttpTarget(
        url=f"{deployment.base_url.rstrip('/')}/chat/completions",
        headers=headers,
        body=request_body(call.request, deployment.upstream_model, stream=stream),
    )
