from __future__ import annotations

import io
import json
import logging

import pytest

from svckit.logs import configure_logging
from svckit.redaction import REDACTED, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz"),
        ("key sk-proj-0123456789abcdef in use", "sk-proj-0123456789abcdef"),
        ("gateway key sbk_live_0123456789", "sbk_live_0123456789"),
        ('{"api_key": "plainvalue42"}', "plainvalue42"),
        ("password=hunter2&user=bob", "hunter2"),
        ("redis://default:s3cr3t@redis:6379/0", "s3cr3t"),
        ("mail alice.smith+llm@example.co.uk now", "alice.smith+llm@example.co.uk"),
        ("call +1 415-555-2671 today", "415-555-2671"),
        ("call (020) 7946 0958", "7946 0958"),
        ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004", "5500-0000-0000-0004"),
        ("charged card 4111111111111111.", "4111111111111111"),  # a full stop after it
        ("Card no.4111111111111111", "4111111111111111"),
        (
            "lookup failed for sb-1e3834a97c1e-M3U3iJZ_abcdefghijklmnopqrstuvwxyz0123456789A",
            "M3U3iJZ_abcdefghijklmnopqrstuvwxyz0123456789A",
        ),
    ],
)
def test_secret_is_removed(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "request 1234567890123 took 12 ms",  # fails the Luhn check: not a card
        "window 1700000000 reset in 59 s",
        "model gpt-4o-mini tokens 1024",
        "subject keys/k-1 tier free",
        "2026-11-27T10:00:00Z",
        "pi is 3.1415926535897932 here",  # a decimal, not a card
        "revoked key sb-1e3834a97c1e",  # a gateway key's public id, without its secret
    ],
)
def test_ordinary_text_survives(text: str) -> None:
    assert redact(text) == text


def test_log_line_stays_valid_json_and_drops_secret_fields() -> None:
    stream = io.StringIO()
    configure_logging("svc", "DEBUG", stream)
    try:
        logging.getLogger("t").info(
            'quote " password=hunter2\\ end',
            extra={"api_key": "no-pattern-here", "nested": {"token": "t0k"}, "n": 3},
        )
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(stream.getvalue())
    assert "hunter2" not in stream.getvalue()
    assert line["api_key"] == REDACTED
    assert line["nested"] == {"token": REDACTED}
    assert line["n"] == 3


def test_numbers_and_keys_of_structured_fields_are_scrubbed_too() -> None:
    stream = io.StringIO()
    configure_logging("svc", "DEBUG", stream)
    try:
        logging.getLogger("t").info(
            "structured",
            extra={
                "card": 4111111111111111,
                "count": 1234567890123,  # fails the Luhn check: kept as a number
                "by_mail": {"alice@example.com": "ok"},
            },
        )
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(stream.getvalue())
    assert line["card"] == REDACTED
    assert line["count"] == 1234567890123
    assert line["by_mail"] == {REDACTED: "ok"}
