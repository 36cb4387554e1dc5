"""Signing webhook bodies with HMAC, the way Stripe signs its webhooks.

    X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

To verify (what `verify` does): split the header on ",", read `t` and every `v1`; recompute the
HMAC over the timestamp, a ".", and the raw request body bytes exactly as received; compare in
constant time with each `v1` (several let a sender sign with an old and a new secret while a
rotation is under way); reject when none matches or when `t` is further than the tolerance
(5 minutes by default) from now, which stops replays of an old delivery. Senders sign each
attempt afresh, so a retried delivery carries a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Switchboard-Signature"
DEFAULT_TOLERANCE_SECONDS = 300.0
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Seconds since the epoch: ASCII digits only (str.isdigit takes '²') and few enough that the
arithmetic stays an ordinary int (a header of 5,000 digits would raise, not be refused)."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True when `header` signs `body` with `secret` at a time within tolerance of `now`."""
    timestamp, signatures = _parse_header(header)
    if timestamp is None or abs(now - timestamp) > tolerance_seconds:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _parse_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


__all__ = ["DEFAULT_TOLERANCE_SECONDS", "SIGNATURE_HEADER", "sign", "verify"]
