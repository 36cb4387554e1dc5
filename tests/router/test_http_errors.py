"""The shared HTTP error vocabulary: Retry-After parsing, snippets, transport errors."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from services.router.providers.base import ProviderError
from services.router.providers.http_errors import (
    SNIPPET_CHARS,
    parse_json_object,
    parse_retry_after,
    sanitize_snippet,
    status_error,
    transport_error,
    upstream_error_message,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


def http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": http_date(90)}, 90.0),
        ({"retry-after": http_date(-90)}, 0.0),
        ({"retry-after": "Sat, 01 Mar 2025 12:00:00"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "tomorrow"}, None),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_dates_and_milliseconds(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert parse_retry_after(headers, clock=lambda: NOW) == seconds


def test_the_key_is_redacted_before_the_snippet_is_cut() -> None:
    key = "secret-value-1234567890"
    text = "x" * (SNIPPET_CHARS - 5) + key
    snippet = sanitize_snippet(text, key)
    # Cut first, the snippet would end in "se..."; redacted first, no part of the key is left.
    assert snippet == "x" * (SNIPPET_CHARS - 5) + "[r..."


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-proj-abc***********************xyz9",
        "auth header was Bearer abc.def.ghi",
        "key sk-ant-api03-AAAAAAAAAAAA is invalid",
    ],
)
def test_anything_shaped_like_a_key_is_redacted(text: str) -> None:
    snippet = sanitize_snippet(text, api_key=None)
    assert "[redacted]" in snippet
    assert "abc" not in snippet.split("[redacted]")[-1]
    assert "AAAA" not in snippet


def test_control_characters_and_runs_of_space_collapse() -> None:
    assert sanitize_snippet("bad\r\n\trequest   here\x00", None) == "bad request here"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "model not found", "type": "x"}}', "model not found"),
        (b'{"type": "error", "error": {"type": "x", "message": "overloaded"}}', "overloaded"),
        (b'{"error": "plain string"}', "plain string"),
        (b'{"detail": "fastapi style"}', '{"detail": "fastapi style"}'),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        (b"[1, 2]", "[1, 2]"),
    ],
)
def test_the_upstreams_own_message_is_found_in_its_error_body(body: bytes, message: str) -> None:
    assert upstream_error_message(body) == message


def test_an_error_without_a_body_names_deployment_and_status_only() -> None:
    error = status_error("d1", 502, {}, b"", None)
    assert str(error) == "d1: upstream answered HTTP 502"
    assert (error.retryable, error.status, error.retry_after_seconds) == (True, 502, None)


def test_a_server_error_keeps_its_retry_after() -> None:
    error = status_error("d1", 503, {"retry-after": "4"}, b"", None)
    assert error.retry_after_seconds == 4.0


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectTimeout("c"), "UPSTREAM_TIMEOUT"),
        (httpx.ReadTimeout("r"), "UPSTREAM_TIMEOUT"),
        (TimeoutError(), "UPSTREAM_TIMEOUT"),
        (httpx.ConnectError("refused"), "UPSTREAM_UNREACHABLE"),
        (httpx.ReadError("reset"), "UPSTREAM_UNREACHABLE"),
        (httpx.RemoteProtocolError("cut"), "UPSTREAM_UNREACHABLE"),
    ],
)
def test_transport_failures_are_retryable_and_keep_the_url_out(exc: Exception, reason: str) -> None:
    error = transport_error("d1", exc)
    assert (error.retryable, error.reason, error.status) == (True, reason, None)
    assert str(error).startswith("d1: upstream")


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_a_bad_response(body: bytes) -> None:
    with pytest.raises(ProviderError) as caught:
        parse_json_object("d1", body)
    assert (caught.value.retryable, caught.value.reason) == (False, "UPSTREAM_BAD_RESPONSE")
