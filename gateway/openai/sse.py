"""Server-sent events in OpenAI's framing: `data: {json}` per chunk, then `data: [DONE]`.

Two moments of failure are told apart:

- Before the first chunk (unknown model, invalid request, every deployment down) nothing has
  been sent, so the gateway can still answer a proper HTTP status. `primed` waits for the first
  chunk and lets such a failure raise before the response starts.
- After the first chunk the status line (200) is gone. Then, as api.openai.com does, the error
  goes out as a last `data: {"error": {...}}` frame and the stream ends without `[DONE]`; the
  official SDKs raise `APIError` when they read it. Internals never reach the frame: anything
  that is not an `OpenAIError` or a gRPC status becomes the fixed 500 body.

A client that disconnects cancels the generator (`CancelledError` is not an `Exception`), which
passes through untouched so the router call is cancelled too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any, TypeVar

from gateway.openai.errors import to_openai_error

log = logging.getLogger("gateway.openai.sse")

DONE_FRAME = b"data: [DONE]\n\n"
MEDIA_TYPE = "text/event-stream"
# no-transform and X-Accel-Buffering keep proxies (nginx, ingress) from buffering the stream.
SSE_HEADERS = {"cache-control": "no-cache, no-transform", "x-accel-buffering": "no"}

T = TypeVar("T")


def frame(payload: Mapping[str, Any]) -> bytes:
    """One event: compact JSON on one `data:` line (JSON text never holds a raw newline)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


async def sse_frames(chunks: AsyncIterable[Mapping[str, Any]]) -> AsyncIterator[bytes]:
    """Frames for `chunks`, then `[DONE]`; a failure midway ends with an error frame instead."""
    try:
        async for chunk in chunks:
            yield frame(chunk)
    except Exception as error:  # every failure must end the stream with a frame, not a reset
        openai_error = to_openai_error(error)
        if openai_error.status >= 500:
            log.warning("stream failed after it started: %s", type(error).__name__)
        yield frame(openai_error.body())
        return
    yield DONE_FRAME


async def primed(items: AsyncIterable[T]) -> AsyncIterator[T]:
    """`items` with its first element already awaited, so an early failure raises here.

    >>> stream = await primed(router_chunks)   # raises AioRpcError -> answer 404/400/503
    >>> return StreamingResponse(sse_frames(translate(stream)), ...)
    """
    iterator = aiter(items)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        return _empty()
    return _chain(first, iterator)


async def _chain(first: T, rest: AsyncIterator[T]) -> AsyncIterator[T]:
    yield first
    async for item in rest:
        yield item


async def _empty() -> AsyncIterator[Any]:
    return
    yield  # makes this an async generator
