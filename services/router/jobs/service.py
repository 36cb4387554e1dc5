"""Submit, read and cancel jobs: what the SubmitJob, GetJob and CancelJob RPCs call.

Submitting writes the row first and enqueues second, so a worker never receives an id it
cannot read. If the enqueue fails the row is marked failed (UNAVAILABLE) rather than left
queued forever, and the caller gets `Unavailable`. Cancelling an already cancelled job returns
it unchanged (a retried cancel is not an error); cancelling a succeeded or failed one is
`FailedPrecondition`, as the proto documents. A job asking for a webhook is refused
(`FailedPrecondition`) while no signing secret is configured: webhooks are only ever signed.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from services.router.chat import ChatRequest
from services.router.jobs.model import Job, JobState
from services.router.jobs.queue import JobQueue
from services.router.jobs.store import JobStore
from services.router.jobs.webhook import WebhookSender
from svckit.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable

_ENQUEUE_FAILED = "the job queue is unavailable"


class JobService:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        *,
        webhook: WebhookSender | None = None,
        abort_local: Callable[[str], bool] | None = None,
    ) -> None:
        """`abort_local` is `JobWorker.abort` when a worker runs in this process."""
        self._store = store
        self._queue = queue
        self._webhook = webhook
        self._abort_local = abort_local

    async def submit(self, request: ChatRequest, *, webhook_url: str = "") -> Job:
        _check_webhook_url(webhook_url)
        if webhook_url and self._webhook is None:
            # Never an unsigned webhook: without a signing secret the receiver could not tell
            # our call from anyone else's.
            raise FailedPrecondition(
                "webhooks are off: the router has no webhook signing secret",
                reason="WEBHOOKS_DISABLED",
            )
        job = await self._store.create(request, webhook_url=webhook_url)
        try:
            await self._queue.enqueue(job.id)
        except Exception as exc:
            await self._store.finish_failure(
                job.id, code="UNAVAILABLE", message=_ENQUEUE_FAILED, worker=""
            )
            raise Unavailable(_ENQUEUE_FAILED, reason="JOB_QUEUE_UNAVAILABLE") from exc
        return job

    async def get(self, job_id: str) -> Job:
        job = await self._store.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}", reason="JOB_NOT_FOUND")
        return job

    async def cancel(self, job_id: str) -> Job:
        won = await self._store.cancel(job_id)
        job = await self.get(job_id)
        if won:
            if self._abort_local is not None:
                self._abort_local(job_id)
            if self._webhook is not None:
                self._webhook.send(job)
        elif job.state is not JobState.CANCELLED:
            raise FailedPrecondition(
                f"job {job_id!r} already {job.state.value}", reason="JOB_FINISHED"
            )
        return job


def _check_webhook_url(url: str) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidArgument.field("webhook_url", "must be an absolute http(s) URL")
