"""How both HTTP providers fail, one suite run against the fake OpenAI and the fake Anthropic
server over real HTTP: status classes, Retry-After, timeouts, unreachable upstreams, unreadable
answers, broken streams, and the key never leaking into an error."""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from services.router.catalogue import ProviderKind
from services.router.chat import StreamChunk
from services.router.providers.anthropic import AnthropicProvider
from services.router.providers.base import Provider, ProviderError, UpstreamCall
from services.router.providers.openai_compat import OpenAICompatibleProvider
from tests.router.provider_calls import API_KEY, drain, question, upstream_call
from tests.router.upstreams import (
    FakeUpstreamControl,
    fake_anthropic_app,
    fake_openai_app,
    serve_upstream,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.fixture(params=["openai", "anthropic"])
def kind(request: pytest.FixtureRequest) -> ProviderKind:
    value: ProviderKind = request.param
    return value


@pytest.fixture
def control() -> FakeUpstreamControl:
    return FakeUpstreamControl()


@pytest.fixture
async def base_url(kind: ProviderKind, control: FakeUpstreamControl) -> AsyncIterator[str]:
    app = fake_openai_app(control) if kind == "openai" else fake_anthropic_app(control)
    async with serve_upstream(app) as url:
        yield url


@pytest.fixture
async def provider(kind: ProviderKind) -> AsyncIterator[Provider]:
    async with httpx.AsyncClient(trust_env=False) as client:
        if kind == "openai":
            yield OpenAICompatibleProvider(client, clock=lambda: NOW)
        else:
            yield AnthropicProvider(client, clock=lambda: NOW)


@pytest.fixture
def call(kind: ProviderKind, base_url: str) -> UpstreamCall:
    return upstream_call(question(), base_url, kind=kind, name="primary-1")


async def failure_of(provider: Provider, call: UpstreamCall, *, stream: bool) -> ProviderError:
    async def attempt() -> object:
        return await drain(provider.stream(call)) if stream else await provider.complete(call)

    with pytest.raises(ProviderError) as caught:
        await attempt()
    return caught.value


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
@pytest.mark.parametrize(
    ("status", "retryable", "reason"),
    [
        (429, True, "UPSTREAM_RATE_LIMITED"),
        (408, True, "UPSTREAM_ERROR"),
        (409, True, "UPSTREAM_ERROR"),
        (500, True, "UPSTREAM_ERROR"),
        (503, True, "UPSTREAM_ERROR"),
        (529, True, "UPSTREAM_ERROR"),
        (400, False, "UPSTREAM_REJECTED"),
        (404, False, "UPSTREAM_REJECTED"),
        (422, False, "UPSTREAM_REJECTED"),
        (401, False, "UPSTREAM_AUTH"),
        (403, False, "UPSTREAM_AUTH"),
    ],
)
async def test_each_status_class_maps_to_its_retryability_and_reason(
    provider: Provider,
    control: FakeUpstreamControl,
    call: UpstreamCall,
    stream: bool,
    status: int,
    retryable: bool,
    reason: str,
) -> None:
    control.fail_next(1, status, message="the upstream is unhappy")
    error = await failure_of(provider, call, stream=stream)
    assert (error.status, error.retryable, error.reason) == (status, retryable, reason)
    assert str(error) == f"primary-1: upstream answered HTTP {status}: the upstream is unhappy"


async def test_the_next_call_after_an_injected_failure_succeeds(
    provider: Provider, control: FakeUpstreamControl, call: UpstreamCall
) -> None:
    control.fail_next(1, 503)
    await failure_of(provider, call, stream=False)
    completion = await provider.complete(call)
    assert completion.choices[0].message.content
    assert len(control.requests) == 2


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": format_datetime(datetime.fromtimestamp(NOW + 30, UTC), True)}, 30.0),
        ({"retry-after": "20", "retry-after-ms": "250"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
    ids=["seconds", "fraction", "http-date", "ms-wins", "garbage", "absent"],
)
async def test_rate_limited_answers_carry_the_upstreams_retry_after(
    provider: Provider,
    control: FakeUpstreamControl,
    call: UpstreamCall,
    headers: dict[str, str],
    seconds: float | None,
) -> None:
    control.fail_next(1, 429, headers=headers)
    error = await failure_of(provider, call, stream=False)
    assert error.retry_after_seconds == seconds


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
async def test_an_upstream_that_never_answers_times_out_and_sees_the_client_leave(
    provider: Provider,
    control: FakeUpstreamControl,
    base_url: str,
    kind: ProviderKind,
    stream: bool,
) -> None:
    control.hang = True
    call = upstream_call(question(), base_url, kind=kind, timeout_seconds=0.2)
    error = await failure_of(provider, call, stream=stream)
    assert (error.retryable, error.reason, error.status) == (True, "UPSTREAM_TIMEOUT", None)
    await control.wait_for_disconnects(1)


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
async def test_a_closed_port_is_unreachable_and_retryable(
    provider: Provider, kind: ProviderKind, stream: bool
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    call = upstream_call(question(), f"http://127.0.0.1:{port}/v1", kind=kind)
    error = await failure_of(provider, call, stream=stream)
    assert (error.retryable, error.reason, error.status) == (True, "UPSTREAM_UNREACHABLE", None)
    assert str(error).startswith("test-deployment: upstream unreachable")


@pytest.mark.parametrize("malformed", ["json", "shape"])
@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
async def test_an_unreadable_answer_is_a_bad_response_not_retried(
    provider: Provider,
    control: FakeUpstreamControl,
    call: UpstreamCall,
    malformed: str,
    stream: bool,
) -> None:
    control.malformed = malformed  # type: ignore[assignment]
    error = await failure_of(provider, call, stream=stream)
    assert (error.retryable, error.reason) == (False, "UPSTREAM_BAD_RESPONSE")


async def test_a_connection_dropped_mid_stream_is_unreachable_and_retryable(
    provider: Provider, control: FakeUpstreamControl, call: UpstreamCall
) -> None:
    control.drop_stream_after = 3
    chunks: list[StreamChunk] = []

    async def consume() -> None:
        async for chunk in provider.stream(call):
            chunks.append(chunk)

    with pytest.raises(ProviderError) as caught:
        await consume()
    assert chunks, "the chunks before the drop are passed on"
    assert (caught.value.retryable, caught.value.reason) == (True, "UPSTREAM_UNREACHABLE")


async def test_a_stream_that_ends_without_its_terminator_is_retryable(
    provider: Provider, control: FakeUpstreamControl, call: UpstreamCall
) -> None:
    control.omit_stream_end = True
    error = await failure_of(provider, call, stream=True)
    assert error.retryable
    assert "stream ended before" in str(error)


async def test_an_error_event_mid_stream_raises_a_retryable_error(
    provider: Provider, control: FakeUpstreamControl, call: UpstreamCall
) -> None:
    control.stream_error_after = 2
    error = await failure_of(provider, call, stream=True)
    assert error.retryable
    assert "failed mid-stream" in str(error)


async def test_closing_a_stream_early_disconnects_from_the_upstream(
    provider: Provider, control: FakeUpstreamControl, call: UpstreamCall
) -> None:
    control.hold_stream_after = 2
    stream = provider.stream(call)
    assert isinstance(stream, AsyncGenerator), "closing early needs aclose()"
    await anext(stream)
    await stream.aclose()
    await control.wait_for_disconnects(1)


@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
async def test_a_key_echoed_by_a_401_never_reaches_the_error(
    provider: Provider, control: FakeUpstreamControl, call: UpstreamCall, stream: bool
) -> None:
    control.require_key = "sk-the-right-key-000000"
    error = await failure_of(provider, call, stream=stream)
    assert error.reason == "UPSTREAM_AUTH"
    assert API_KEY not in str(error)
    assert API_KEY[8:] not in str(error)
    assert "Incorrect API key provided: [redacted]" in str(error)


async def test_a_key_echoed_in_a_server_error_never_reaches_the_error(
    provider: Provider, control: FakeUpstreamControl, base_url: str, kind: ProviderKind
) -> None:
    key = "plain-secret-without-a-known-shape"
    control.echo_key_in_errors = True
    control.fail_next(1, 500)
    error = await failure_of(
        provider, upstream_call(question(), base_url, kind=kind, api_key=key), stream=False
    )
    assert key not in str(error)
    assert "[redacted]" in str(error)


async def test_a_long_upstream_message_is_cut_to_a_short_single_line_snippet(
    provider: Provider, control: FakeUpstreamControl, call: UpstreamCall
) -> None:
    control.fail_next(1, 400, message="bad\nrequest " + "x" * 1000)
    error = await failure_of(provider, call, stream=False)
    assert "\n" not in str(error)
    assert len(str(error)) < 250
