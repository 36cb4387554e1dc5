"""The worker: takes jobs off the queue, runs each completion, writes its result once.

For each delivery: mark the job running (one more attempt) unless it is final or gone, in which
case only acknowledge; run the completion; write the success or the failure with the store's
conditional UPDATE; acknowledge only then (so a crash before the commit leaves the delivery
pending, to be claimed by another consumer); send the webhook if this write was the one that
counted. A store error leaves the delivery unacknowledged on purpose: it will be claimed again.

Every `claim_interval_ms` (and at start, which recovers a previous incarnation's jobs) the
worker claims deliveries idle for `claim_idle_ms`, usually a crashed consumer's. A slow but
live consumer's job may be claimed too; both then run it and the second write loses, so
`claim_idle_ms` should exceed the longest expected completion (the default, 5 minutes, is well
above the router's call timeouts).

Cancellation: `JobService.cancel` writes `cancelled` with a conditional UPDATE; a worker still
running the job then loses its write and the job stays cancelled. In the embedded mode the
service may also call `abort(job_id)` to stop the local run early.

Failures stored on a job carry a gRPC code name and a short message: a `ServiceError`'s own,
a `ProviderError`'s (which never names a key), and for anything unexpected only "internal
error" (the details go to the log, through its redaction).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from enum import StrEnum

from services.router.chat import ChatRequest, Completion
from services.router.jobs.model import Job, JobState
from services.router.jobs.queue import Delivery, JobQueue
from services.router.jobs.store import JobStore
from services.router.jobs.webhook import WebhookSender
from services.router.providers.base import ProviderError
from svckit.errors import ServiceError
from svckit.redaction import redact

RunCompletion = Callable[[ChatRequest], Awaitable[Completion]]

log = logging.getLogger(__name__)

_PROVIDER_CODES = {
    "UPSTREAM_TIMEOUT": "DEADLINE_EXCEEDED",
    "UPSTREAM_RATE_LIMITED": "RESOURCE_EXHAUSTED",
    "UPSTREAM_REJECTED": "INVALID_ARGUMENT",
}


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    """This worker wrote the job's result."""
    FAILED = "failed"
    """This worker wrote the job's failure."""
    LOST = "lost"
    """The job became final (another worker, a cancel) while this worker ran it."""
    SKIPPED = "skipped"
    """The job was final or missing when delivered: only acknowledged."""
    ABORTED = "aborted"
    """The local run was stopped by `abort` after a cancel."""
    DEFERRED = "deferred"
    """The store failed; the delivery stays pending for a later claim."""


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """A failure as stored on the job: (gRPC code name, message without secrets)."""
    if isinstance(exc, ServiceError):
        return exc.code.name, redact(exc.message)
    if isinstance(exc, ProviderError):
        return _PROVIDER_CODES.get(exc.reason, "UNAVAILABLE"), redact(str(exc))
    if isinstance(exc, TimeoutError):
        return "DEADLINE_EXCEEDED", "the completion timed out"
    return "INTERNAL", "internal error"


class JobWorker:
    def __init__(
        self,
        store: JobStore,
        queue: JobQueue,
        run: RunCompletion,
        *,
        consumer_name: str,
        concurrency: int = 8,
        claim_idle_ms: int = 300_000,
        claim_interval_ms: int | None = None,
        block_ms: int = 1000,
        error_pause_seconds: float = 1.0,
        webhook: WebhookSender | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`consumer_name` must be unique per live worker (host and pid, say): it is whose
        pending deliveries these are. `claim_interval_ms` defaults to half of `claim_idle_ms`."""
        self.consumer = consumer_name
        self.stats: Counter[Outcome] = Counter()
        self._store = store
        self._queue = queue
        self._run = run
        self._concurrency = concurrency
        self._claim_idle_ms = claim_idle_ms
        self._claim_interval = (claim_interval_ms or claim_idle_ms // 2) / 1000
        self._block_ms = block_ms
        self._error_pause = error_pause_seconds
        self._webhook = webhook
        self._clock = clock
        self._next_claim_at = float("-inf")
        self._stopping = False
        self._running: dict[str, asyncio.Task[Completion]] = {}
        self._aborted: set[str] = set()

    async def run_forever(self) -> None:
        """Works until `stop()`; then finishes the jobs in hand and returns. Cancelling the
        task instead abandons the jobs in hand (they are claimed elsewhere later)."""
        in_flight: set[asyncio.Task[Outcome]] = set()
        try:
            while not self._stopping:
                free = self._concurrency - len(in_flight)
                if free == 0:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    continue
                for delivery in await self._next_deliveries(free):
                    task = asyncio.create_task(self.process(delivery))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
        except asyncio.CancelledError:
            # Cancelled, not stopped: drop the jobs in hand unwritten and unacknowledged, as a
            # crash would; another consumer claims them.
            for task in in_flight:
                task.cancel()
            raise
        finally:
            await asyncio.gather(*in_flight, return_exceptions=True)

    def stop(self) -> None:
        """Asks `run_forever` to return after the current receive (at most `block_ms`)."""
        self._stopping = True

    async def run_once(self) -> list[Outcome]:
        """One round: claim if due, else receive up to `concurrency` deliveries; process them
        all. For tests and tools that step the worker by hand."""
        deliveries = await self._next_deliveries(self._concurrency)
        return list(await asyncio.gather(*(self.process(d) for d in deliveries)))

    def abort(self, job_id: str) -> bool:
        """Stops this worker's run of `job_id` (already cancelled in the store); False when
        this worker is not running it."""
        task = self._running.get(job_id)
        if task is None:
            return False
        self._aborted.add(job_id)
        task.cancel()
        return True

    async def process(self, delivery: Delivery) -> Outcome:
        try:
            outcome = await self._process(delivery)
        except Exception:
            log.exception("job %s: store unavailable, left for a later claim", delivery.job_id)
            outcome = Outcome.DEFERRED
        self.stats[outcome] += 1
        return outcome

    async def _next_deliveries(self, count: int) -> list[Delivery]:
        try:
            if self._clock() >= self._next_claim_at:
                claimed = await self._queue.claim_stale(self.consumer, self._claim_idle_ms, count)
                # A full batch suggests more are waiting: claim again next round.
                full = len(claimed) >= count
                self._next_claim_at = self._clock() + (0 if full else self._claim_interval)
                if claimed:
                    return claimed
            return await self._queue.receive(self.consumer, count, self._block_ms)
        except Exception:
            log.exception("job queue unavailable; pausing")
            await asyncio.sleep(self._error_pause)
            return []

    async def _process(self, delivery: Delivery) -> Outcome:
        job = await self._store.start(delivery.job_id, worker=self.consumer)
        if job is None:
            await self._ack(delivery)
            return Outcome.SKIPPED
        finished = await self._execute(job)
        if finished is None:
            await self._ack(delivery)
            return Outcome.ABORTED
        won = await self._write(finished)
        await self._ack(delivery)
        if not won:
            return Outcome.LOST
        if self._webhook is not None:
            self._webhook.send(finished)
        return Outcome.SUCCEEDED if finished.state is JobState.SUCCEEDED else Outcome.FAILED

    async def _execute(self, job: Job) -> Job | None:
        """The job as it should finish, or None when aborted."""
        run = asyncio.create_task(self._call(job.request), name=f"job-{job.id}")
        self._running[job.id] = run
        try:
            completion = await run
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if job.id not in self._aborted or (current is not None and current.cancelling()):
                raise
            return None
        except Exception as exc:
            code, message = describe_failure(exc)
            if code == "INTERNAL":
                log.exception("job %s failed unexpectedly", job.id)
            return replace(job, state=JobState.FAILED, error_code=code, error_message=message)
        finally:
            self._running.pop(job.id, None)
            self._aborted.discard(job.id)
        return replace(job, state=JobState.SUCCEEDED, result=completion)

    async def _call(self, request: ChatRequest) -> Completion:
        return await self._run(request)

    async def _write(self, job: Job) -> bool:
        if job.state is JobState.SUCCEEDED and job.result is not None:
            return await self._store.finish_success(job.id, job.result, worker=self.consumer)
        return await self._store.finish_failure(
            job.id, code=job.error_code, message=job.error_message, worker=self.consumer
        )

    async def _ack(self, delivery: Delivery) -> None:
        """A failed ack is only logged: the job is final, so a redelivery is just skipped."""
        try:
            await self._queue.ack(delivery)
        except Exception:
            log.warning(
                "job %s: acknowledgement failed; it will be skipped when redelivered",
                delivery.job_id,
                exc_info=True,
            )
