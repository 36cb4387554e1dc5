"""Alerts to a webhook, when one is configured: an HMAC-signed JSON POST per alert.

The body (one alert):

    {"type": "budget.threshold_crossed", "alert_id", "budget_id", "scope", "threshold",
     "period_start", "raised" (RFC 3339, UTC),
     "spent": {"currency_code", "nanos"}, "limit": {"currency_code", "nanos"}}

signed as `svckit.signatures` says (header `X-Switchboard-Signature`; receivers verify it with
`svckit.signatures.verify`). Raising an alert exactly once is the database's job (accounting);
delivery is at least once: a transport error, a timeout, 408, 429 or a 5xx is retried with
exponential backoff and jitter up to `max_attempts` (a timed-out attempt may have arrived), so
receivers deduplicate by `alert_id`. Each replica delivers the alerts it raised itself, in
background tasks, so the ledger's writer never waits for a receiver. Log lines name the
receiver's host only (the URL may carry a token), never the secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.cost.budgets.model import Alert
from svckit.signatures import SIGNATURE_HEADER, sign

EVENT_TYPE = "budget.threshold_crossed"
_RETRYABLE_STATUS = frozenset({408, 429})

log = logging.getLogger(__name__)


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "type": EVENT_TYPE,
        "alert_id": alert.id,
        "budget_id": alert.budget_id,
        "scope": alert.scope,
        "threshold": alert.threshold,
        "period_start": alert.period_start.isoformat(),
        "raised": alert.raised_at.isoformat(),
        "spent": {"currency_code": alert.spent.currency, "nanos": alert.spent.nanos},
        "limit": {"currency_code": alert.limit.currency, "nanos": alert.limit.nanos},
    }


class AlertWebhook:
    def __init__(
        self,
        url: str,
        secret: str | Callable[[], str],
        *,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 5.0,
        max_attempts: int = 5,
        backoff_seconds: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """`secret` may be a callable, read at each attempt, so a rotated secret applies at
        once. A given `client` is not closed by `aclose`."""
        self._url = url
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

    def send(self, raised: Sequence[Alert]) -> None:
        """Delivers each alert in the background (an accounting listener)."""
        for alert in raised:
            task = asyncio.create_task(self.deliver(alert), name=f"alert-webhook-{alert.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def deliver(self, alert: Alert) -> bool:
        """One delivery with its retries; True once the receiver answered 2xx."""
        body = json.dumps(alert_payload(alert), separators=(",", ":")).encode()
        for attempt in range(1, self._max_attempts + 1):
            retry = await self._attempt(alert, body)
            if retry is None:
                return True
            if not retry or attempt == self._max_attempts:
                break
            await self._sleep(self._delay(attempt))
        log.warning("alert %s to webhook at %s gave up", alert.id, self._host())
        return False

    async def drain(self) -> None:
        """Waits for every delivery in flight (tests, and a graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._owns_client:
            await self._client.aclose()

    async def _attempt(self, alert: Alert, body: bytes) -> bool | None:
        """None when delivered; otherwise whether another attempt may succeed."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret(), body, int(self._clock())),
        }
        try:
            response = await self._client.post(
                self._url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            # The type only: some messages repeat the URL, which may hold a token.
            log.info("alert %s to %s failed: %s", alert.id, self._host(), type(exc).__name__)
            return True
        if response.is_success:
            return None
        log.info("alert %s to %s answered %d", alert.id, self._host(), response.status_code)
        return response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS

    def _delay(self, attempt: int) -> float:
        """Exponential, with jitter so alerts to a failed receiver are not retried in step."""
        return float(self._backoff * 2 ** (attempt - 1) * (0.5 + self._rng.random()))

    def _host(self) -> str:
        return urlsplit(self._url).hostname or "?"
