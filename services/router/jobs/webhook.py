"""Telling the submitter that a job finished: a signed webhook (`svckit.webhooks`).

The body is JSON: `{"job_id", "state", "result"}` for a success (the completion in the codec's
shape), `{"job_id", "state", "error": {"code", "message"}}` for a failure, `{"job_id", "state"}`
for a cancellation, signed the way Stripe signs its webhooks (`svckit.signatures`, which also
says how to verify; re-exported here: `sign`, and `verify_signature`, its `verify`):

    X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

Delivery is at least once: receivers deduplicate by `job_id`, which finishes only once.
"""

from __future__ import annotations

from typing import Any

from services.router.jobs.job_codec import completion_to_json
from services.router.jobs.model import Job, JobState
from svckit.signatures import DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, sign
from svckit.signatures import verify as verify_signature
from svckit.webhooks import SignedWebhooks

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SIGNATURE_HEADER",
    "WebhookSender",
    "job_payload",
    "sign",
    "verify_signature",
]


def job_payload(job: Job) -> dict[str, Any]:
    payload: dict[str, Any] = {"job_id": job.id, "state": job.state.value}
    if job.state is JobState.SUCCEEDED and job.result is not None:
        payload["result"] = completion_to_json(job.result)
    elif job.state is JobState.FAILED:
        payload["error"] = {"code": job.error_code, "message": job.error_message}
    return payload


class WebhookSender(SignedWebhooks):
    def send(self, job: Job) -> None:
        """Delivers in the background; nothing to do when the job has no webhook URL."""
        if job.webhook_url:
            self.post_later(job.webhook_url, job_payload(job), f"job {job.id}")

    async def deliver(self, job: Job) -> bool:
        """One delivery with its retries; True once the receiver answered 2xx."""
        return await self.post(job.webhook_url, job_payload(job), f"job {job.id}")
