"""How an HTTP provider call fails: one mapping from transport errors and statuses to
`ProviderError`, shared by every HTTP provider so the router sees one vocabulary.

Decisions:
- A timeout (connect, read, write, pool, or the call's own deadline) is UPSTREAM_TIMEOUT and
  retryable; any other transport failure (refused, reset, dropped mid-body) is
  UPSTREAM_UNREACHABLE and retryable.
- 429 is UPSTREAM_RATE_LIMITED with the upstream's wait: `retry-after-ms` (OpenAI's precise
  header) wins over `Retry-After`, which may be seconds or an HTTP date.
- 408, 409 and 5xx are retryable UPSTREAM_ERROR (OpenAI and Anthropic both document them as
  transient); 401/403 are UPSTREAM_AUTH and every other 4xx UPSTREAM_REJECTED, never retried.
- The message names the deployment and the status and carries at most a short snippet of the
  upstream's own error message, with the API key (and anything shaped like a provider key)
  redacted *before* truncation, so a cut can never leave a fragment of the key behind.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from services.router.providers.base import ProviderError

SNIPPET_CHARS = 160
REDACTED = "[redacted]"

# Shapes of provider keys an upstream may echo even when it is not the key we sent.
_KEY_SHAPES = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_*.\-]{6,}|\bBearer\s+\S+", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def sanitize_snippet(text: str, api_key: str | None) -> str:
    """A short, single-line excerpt of upstream text that cannot carry the key."""
    if api_key:
        text = text.replace(api_key, REDACTED)
    text = _KEY_SHAPES.sub(REDACTED, text)
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) > SNIPPET_CHARS:
        text = text[: SNIPPET_CHARS - 3] + "..."
    return text


def upstream_error_message(body: bytes) -> str:
    """The human part of an error body: OpenAI's and Anthropic's `error.message`, or the text."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")
    error = parsed.get("error") if isinstance(parsed, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if isinstance(message, str):
        return message
    if isinstance(error, str):
        return error
    return body.decode("utf-8", errors="replace")


def parse_retry_after(
    headers: Mapping[str, str], clock: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait before the next attempt, or None when the upstream gave no usable hint.

    `clock` is the wall clock (epoch seconds), needed only for the HTTP-date form.
    """
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - clock())


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def status_error(
    deployment: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    api_key: str | None,
    clock: Callable[[], float] = time.time,
) -> ProviderError:
    """The error for an upstream's non-2xx answer."""
    snippet = sanitize_snippet(upstream_error_message(body), api_key)
    message = f"{deployment}: upstream answered HTTP {status}"
    if snippet:
        message += f": {snippet}"
    if status == 429:
        return ProviderError(
            message,
            retryable=True,
            status=status,
            retry_after_seconds=parse_retry_after(headers, clock),
            reason="UPSTREAM_RATE_LIMITED",
        )
    if status in (408, 409) or status >= 500:
        retry_after = parse_retry_after(headers, clock)
        return ProviderError(
            message, retryable=True, status=status, retry_after_seconds=retry_after
        )
    reason = "UPSTREAM_AUTH" if status in (401, 403) else "UPSTREAM_REJECTED"
    return ProviderError(message, retryable=False, status=status, reason=reason)


def transport_error(deployment: str, exc: Exception) -> ProviderError:
    """The error for a call that got no complete answer. The exception's own text is left out:
    httpx puts the URL in it, and a URL may carry a key in its query."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ProviderError(
            f"{deployment}: upstream timed out ({type(exc).__name__})",
            retryable=True,
            reason="UPSTREAM_TIMEOUT",
        )
    return ProviderError(
        f"{deployment}: upstream unreachable ({type(exc).__name__})",
        retryable=True,
        reason="UPSTREAM_UNREACHABLE",
    )


def bad_response(deployment: str, what: str) -> ProviderError:
    """An answer we cannot read: retrying the same deployment would read it the same way."""
    return ProviderError(
        f"{deployment}: upstream answer unreadable: {what}",
        retryable=False,
        reason="UPSTREAM_BAD_RESPONSE",
    )


def parse_json_object(deployment: str, body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        raise bad_response(deployment, "not JSON") from None
    if not isinstance(parsed, dict):
        raise bad_response(deployment, "not a JSON object")
    return parsed
