"""Telling the submitter that a job finished: an HMAC-signed POST, retried in the background.

The body is JSON: `{"job_id", "state", "result"}` for a success (the completion in the codec's
shape), `{"job_id", "state", "error": {"code", "message"}}` for a failure, `{"job_id", "state"}`
for a cancellation. It is signed the way Stripe signs its webhooks (`svckit.signatures`, which
also says how to verify; re-exported here: `sign`, and `verify_signature`, its `verify`):

    X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

Each attempt is signed afresh. Delivery is at least once (a timed-out attempt may have arrived):
receivers deduplicate by `job_id`, which finishes only once.

Retries: a transport error, a timeout, 408, 429 or a 5xx is retried with exponential backoff and
jitter, up to `max_attempts`; another status gives up at once. Deliveries run as background
tasks, so a slow receiver never holds up the worker loop. Log lines name the receiver's host
only (a webhook URL may carry a token), never the secret.
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

from services.router.jobs.job_codec import completion_to_json
from services.router.jobs.model import Job, JobState
from svckit.signatures import DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, sign
from svckit.signatures import verify as verify_signature

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SIGNATURE_HEADER",
    "WebhookSender",
    "job_payload",
    "sign",
    "verify_signature",
]

_RETRYABLE_STATUS = frozenset({408, 429})

log = logging.getLogger(__name__)


def job_payload(job: Job) -> dict[str, Any]:
    payload: dict[str, Any] = {"job_id": job.id, "state": job.state.value}
    if job.state is JobState.SUCCEEDED and job.result is not None:
        payload["result"] = completion_to_json(job.result)
    elif job.state is JobState.FAILED:
        payload["error"] = {"code": job.error_code, "message": job.error_message}
    return payload


class WebhookSender:
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

    def send(self, job: Job) -> None:
        """Delivers in the background; nothing to do when the job has no webhook URL."""
        if not job.webhook_url:
            return
        task = asyncio.create_task(self.deliver(job), name=f"webhook-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver(self, job: Job) -> bool:
        """One delivery with its retries; True once the receiver answered 2xx."""
        body = json.dumps(job_payload(job), separators=(",", ":")).encode()
        for attempt in range(1, self._max_attempts + 1):
            retry = await self._attempt(job, body)
            if retry is None:
                return True
            if not retry or attempt == self._max_attempts:
                break
            await self._sleep(self._delay(attempt))
        log.warning(
            "webhook of job %s to %s gave up", job.id, _host(job.webhook_url), extra={"job": job.id}
        )
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

    async def _attempt(self, job: Job, body: bytes) -> bool | None:
        """None when delivered; otherwise whether another attempt may succeed."""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret(), body, int(self._clock())),
        }
        try:
            response = await self._client.post(
                job.webhook_url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            # The exception's type only: some messages repeat the URL, which may hold a token.
            log.info(
                "webhook of job %s to %s failed: %s",
                job.id,
                _host(job.webhook_url),
                type(exc).__name__,
            )
            return True
        if response.is_success:
            return None
        log.info(
            "webhook of job %s to %s answered %d",
            job.id,
            _host(job.webhook_url),
            response.status_code,
        )
        return response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS

    def _delay(self, attempt: int) -> float:
        """Exponential, with jitter so many failed receivers are not retried in lockstep."""
        return float(self._backoff * 2 ** (attempt - 1) * (0.5 + self._rng.random()))


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"
