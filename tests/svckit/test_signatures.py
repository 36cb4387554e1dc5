"""Webhook signatures: what `verify` accepts, and that a malformed header is refused, never
raised (a receiver built on it must answer 4xx, not 500)."""

from __future__ import annotations

import pytest

from svckit.signatures import sign, verify

SECRET = "whsec-test"
BODY = b'{"alert": 1}'
NOW = 1_795_780_800.0


def test_a_signature_verifies_within_the_tolerance_only() -> None:
    header = sign(SECRET, BODY, int(NOW))
    assert verify(SECRET, header, BODY, now=NOW + 299)
    assert not verify(SECRET, header, BODY, now=NOW + 301)
    assert not verify(SECRET, header, BODY + b" ", now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "t=²,v1=abc",  # a digit to str.isdigit, not to int()
        "t=" + "9" * 400 + ",v1=abc",  # too large for the time arithmetic
        "t=" + "9" * 5000 + ",v1=abc",  # beyond int()'s digit limit
        "t=-5,v1=abc",
        "garbage",
        "",
    ],
)
def test_a_malformed_header_is_refused_not_raised(header: str) -> None:
    assert verify(SECRET, header, BODY, now=NOW) is False
