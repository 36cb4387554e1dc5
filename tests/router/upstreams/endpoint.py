"""The request handling both fake dialects share: record, delay, hang, fail, malform, stream.

A `Dialect` supplies what differs (how the key is sent, the error body, the answer and its
events); `endpoint` applies the control's failure modes in a fixed order around it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from tests.router.upstreams.control import (
    FakeUpstreamControl,
    InjectedFailure,
    RecordedRequest,
)


class DroppedConnection(Exception):
    """Raised inside a streaming body: uvicorn then closes the socket mid-body."""


@dataclass(frozen=True)
class Dialect:
    key_of: Callable[[Request], str | None]
    error_body: Callable[[int, str], dict[str, Any]]
    """(status, message) -> the body of an error answer."""
    check: Callable[[Request, dict[str, Any]], str | None]
    """A reason to reject the request with 400, as the real API would, or None."""
    answer: Callable[[dict[str, Any], FakeUpstreamControl], dict[str, Any]]
    events: Callable[[dict[str, Any], FakeUpstreamControl], list[str]]
    """The SSE frames of a streamed answer, its terminator included."""
    stream_end: str
    """The frame that ends a complete stream ([DONE] or message_stop)."""
    error_event: str
    malformed_event: str


def endpoint(control: FakeUpstreamControl, dialect: Dialect) -> Callable[..., Any]:
    async def handle(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse(dialect.error_body(400, "body is not JSON"), 400)
        headers = {name.lower(): value for name, value in request.headers.items()}
        control.requests.append(RecordedRequest(request.url.path, headers, body))
        if control.latency_seconds:
            await asyncio.sleep(control.latency_seconds)
        if control.hang:
            await _until_client_leaves(request)
            control.note_disconnect()
            return Response(status_code=499)
        key = dialect.key_of(request)
        if control.require_key is not None and key != control.require_key:
            message = f"Incorrect API key provided: {key}"
            return JSONResponse(dialect.error_body(401, message), 401)
        failure = control.next_failure()
        if failure is not None:
            return _failure(dialect, failure, key if control.echo_key_in_errors else None)
        problem = dialect.check(request, body)
        if problem is not None:
            return JSONResponse(dialect.error_body(400, problem), 400)
        if body.get("stream"):
            frames = _frames(control, dialect, dialect.events(body, control))
            return StreamingResponse(frames, media_type="text/event-stream")
        if control.malformed == "json":
            return Response(b'{"id": "broken", "choices": [', media_type="application/json")
        if control.malformed == "shape":
            return JSONResponse({"id": "broken", "choices": "none", "content": 7})
        return JSONResponse(dialect.answer(body, control))

    return handle


def _failure(dialect: Dialect, failure: InjectedFailure, echoed_key: str | None) -> Response:
    message = failure.message
    if echoed_key:
        message += f" (request made with key {echoed_key})"
    headers = dict(failure.headers)
    if failure.retry_after is not None:
        headers["retry-after"] = failure.retry_after
    return JSONResponse(dialect.error_body(failure.status, message), failure.status, headers)


async def _until_client_leaves(request: Request) -> None:
    """The body is read, so the next message uvicorn delivers is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _frames(
    control: FakeUpstreamControl, dialect: Dialect, frames: list[str]
) -> AsyncIterator[str]:
    if control.malformed:
        frames = [dialect.malformed_event, *frames]
    if control.omit_stream_end:
        frames = [frame for frame in frames if frame != dialect.stream_end]
    finished = False
    try:
        for sent, frame in enumerate(frames):
            if sent == control.drop_stream_after:
                finished = True
                raise DroppedConnection
            if sent == control.stream_error_after:
                yield dialect.error_event
                break
            if sent == control.hold_stream_after:
                await asyncio.Event().wait()
            yield frame
        finished = True
    finally:
        if not finished:
            control.note_disconnect()
