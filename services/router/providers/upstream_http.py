"""The HTTP mechanics every HTTP provider shares: one JSON POST, one streamed POST, SSE framing.

A unary call has a total deadline (`timeout_seconds` covers connect, upload, the upstream's
thinking and the download together), because the router budgets attempts by wall time. A stream
has no total deadline, since a long answer may legitimately take minutes: `timeout_seconds`
bounds the connect and each wait for the next bytes, so a stalled stream still fails.

Transport failures and non-2xx statuses become `ProviderError` through `http_errors`, including
failures while reading a stream's body (a connection dropped mid-answer is UPSTREAM_UNREACHABLE).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from services.router.providers.base import UpstreamCall
from services.router.providers.http_errors import (
    parse_json_object,
    status_error,
    transport_error,
)


@dataclass(frozen=True, slots=True)
class HttpTarget:
    """Where and how one call is sent."""

    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]


async def post_json(
    client: httpx.AsyncClient,
    target: HttpTarget,
    call: UpstreamCall,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """POST the body and return the upstream's JSON object answer."""
    name = call.deployment.name
    try:
        async with asyncio.timeout(call.timeout_seconds):
            response = await client.post(
                target.url,
                json=target.body,
                headers=dict(target.headers),
                timeout=call.timeout_seconds,
            )
    except (httpx.TransportError, TimeoutError) as exc:
        raise transport_error(name, exc) from exc
    if not response.is_success:
        raise status_error(
            name, response.status_code, response.headers, response.content, call.api_key, clock
        )
    return parse_json_object(name, response.content)


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    target: HttpTarget,
    call: UpstreamCall,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[httpx.Response]:
    """The upstream's streamed answer, open while the block runs; closed on exit, also when the
    block is left early (the caller went away), which closes the upstream connection."""
    name = call.deployment.name
    try:
        async with client.stream(
            "POST",
            target.url,
            json=target.body,
            headers=dict(target.headers),
            timeout=call.timeout_seconds,
        ) as response:
            if not response.is_success:
                body = await response.aread()
                raise status_error(
                    name, response.status_code, response.headers, body, call.api_key, clock
                )
            yield response
    except httpx.TransportError as exc:
        raise transport_error(name, exc) from exc


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str


async def server_sent_events(
    response: httpx.Response,
) -> AsyncGenerator[ServerSentEvent, None]:
    """Events as the SSE specification frames them: `event:`/`data:` fields up to a blank line;
    comments (`:` lines, used as keep-alives) skipped; multi-line data joined with newlines."""
    event = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        yield ServerSentEvent(event or "message", "\n".join(data))
