"""Signed webhooks: an HMAC-signed JSON POST, retried in the background, for every service.

Each attempt is signed afresh as `svckit.signatures` says (header `X-Switchboard-Signature`).
Delivery is at least once (a timed-out attempt may have arrived), so receivers deduplicate by
an id in the payload. A transport error, a timeout, 408, 429 or a 5xx is retried with
exponential backoff and jitter up to `max_attempts`; another status gives up at once.
`post_later` delivers in a background task, so a slow receiver never holds up its caller. Log
lines name the receiver's host only (a webhook URL may carry a token), never the secret.

Delivery is at least once *while the process lives*: background deliveries are kept in memory
only. At shutdown the owner calls `drain(bound_seconds)`, which waits for the deliveries in
flight, retries included, for at most that long, then `aclose()`, which cancels what is left.
The deliveries still pending at that bound are lost; `drain` logs how many (a warning; there is
no failure metric to count them in).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from svckit.signatures import SIGNATURE_HEADER, sign

_RETRYABLE_STATUS = frozenset({408, 429})

log = logging.getLogger(__name__)


class SignedWebhooks:
    def __init__(
        self,
        secret: str | Callable[[], str],
        *,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 5.0,
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """`secret` may be a callable, read at each attempt, so a rotated secret applies at
        once. A given `client` is not closed by `aclose`."""
        self._secret = secret if callable(secret) else (lambda: secret)
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient()
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._tasks: set[asyncio.Task[bool]] = set()

    def post_later(self, url: str, payload: dict[str, Any], what: str) -> None:
        """`post` in a background task; `what` names the delivery in logs ("job 1a2b")."""
        task = asyncio.create_task(self.post(url, payload, what), name=f"webhook {what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def post(self, url: str, payload: dict[str, Any], what: str) -> bool:
        """One delivery with its retries; True once the receiver answered 2xx."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        for attempt in range(1, self._max_attempts + 1):
            retry = await self._attempt(url, body, what)
            if retry is None:
                return True
            if not retry or attempt == self._max_attempts:
                break
            await self._sleep(self._delay(attempt))
        log.warning("webhook of %s to %s gave up", what, _host(url))
        return False

    async def drain(self, bound_seconds: float | None = None) -> int:
        """Waits for the background deliveries, retries included (and any started meanwhile),
        for at most `bound_seconds` when given; returns how many are still pending."""
        loop = asyncio.get_running_loop()
        deadline = None if bound_seconds is None else loop.time() + bound_seconds
        while pending := self._pending():
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                log.warning(
                    "%d webhook deliveries still pending after %ss", len(pending), bound_seconds
                )
                return len(pending)
            await asyncio.wait(pending, timeout=left)
        return 0

    async def aclose(self) -> None:
        """Cancels the deliveries still pending: `drain` first to give them a chance."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()

    def _pending(self) -> set[asyncio.Task[bool]]:
        # A finished task may linger in `_tasks` until its done-callback has run.
        return {task for task in self._tasks if not task.done()}

    async def _attempt(self, url: str, body: bytes, what: str) -> bool | None:
        """None when delivered; otherwise whether another attempt may succeed."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret(), body, int(self._clock())),
        }
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            # The exception's type only: some messages repeat the URL, which may hold a token.
            log.info("webhook of %s to %s failed: %s", what, _host(url), type(exc).__name__)
            return True
        if response.is_success:
            return None
        log.info("webhook of %s to %s answered %d", what, _host(url), response.status_code)
        return response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS

    def _delay(self, attempt: int) -> float:
        """Exponential, with jitter so many failed receivers are not retried in lockstep."""
        return float(self._backoff * 2 ** (attempt - 1) * (0.5 + self._rng.random()))


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"
