"""The worker: takes jobs off the queue, runs each completion, writes its result once.

For each delivery: mark the job running (one more attempt) unless it is final or gone, in which
case only acknowledge; run the completion; write the success or the failure with the store's
conditional UPDATE; acknowledge only then (so a crash before the commit leaves the delivery
pending, to be claimed by another consumer); send the webhook if this write was the one that
counted. A store error leaves the delivery unacknowledged on purpose: it will be claimed again.

Every `claim_interval_ms` (and at start) the worker claims deliveries idle for `claim_idle_ms`,
a crashed consumer's. A live worker never lets its own deliveries look idle: on the same
interval it `keep_alive`s the ones in hand, and it drops any of them a claim hands back to it,
so a slow job is never started twice by live workers. `claim_idle_ms` should still exceed a
worst-case completion (the default is 15 minutes), as a worker stuck in one event-loop step
cannot refresh.

Recovery: the queue may lose a job the rows still hold (the in-process queue on restart, a crash
between the SQL insert and the enqueue, a lost Redis stream). At start and every
`recover_interval_ms` the worker enqueues again every job still queued or running in SQL whose
last update (start, else creation) is older than `claim_idle_ms`. If the job was not lost after
all, the extra delivery is harmless: a worker already holding the job acknowledges it and moves
on, and otherwise `store.start` skips a final job and the conditional finish lets only one
result through.

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

_RECOVER_BATCH = 1000
"""Jobs enqueued again per recovery round, oldest first; the rest wait for the next round."""

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
    DUPLICATE = "duplicate"
    """This worker already holds the job under another delivery: only acknowledged."""


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
        claim_idle_ms: int = 900_000,
        claim_interval_ms: int | None = None,
        recover_interval_ms: int = 300_000,
        block_ms: int = 1000,
        error_pause_seconds: float = 1.0,
        webhook: WebhookSender | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`consumer_name` must be unique per live worker (host and pid, say): it is whose
        pending deliveries these are. `claim_interval_ms` (also how often deliveries in hand are
        kept alive) defaults to half of `claim_idle_ms`."""
        self.consumer = consumer_name
        self.stats: Counter[Outcome] = Counter()
        self._store = store
        self._queue = queue
        self._run = run
        self._concurrency = concurrency
        self._claim_idle_ms = claim_idle_ms
        self._claim_interval = (claim_interval_ms or claim_idle_ms // 2) / 1000
        self._recover_interval = recover_interval_ms / 1000
        self._block_ms = block_ms
        self._error_pause = error_pause_seconds
        self._webhook = webhook
        self._clock = clock
        self._next_claim_at = float("-inf")
        self._next_keep_alive_at = float("-inf")
        self._next_recover_at = float("-inf")
        self._stopping = False
        self._running: dict[str, asyncio.Task[Completion]] = {}
        self._in_hand: dict[str, Delivery] = {}
        """Job id -> the delivery this worker is processing it under."""
        self._aborted: set[str] = set()

    async def run_forever(self) -> None:
        """Works until `stop()`; then finishes the jobs in hand and returns. Cancelling the
        task instead abandons the jobs in hand (they are claimed elsewhere later)."""
        in_flight: set[asyncio.Task[Outcome]] = set()
        try:
            while not self._stopping:
                await self._chores()
                free = self._concurrency - len(in_flight)
                if free == 0:
                    # Bounded, so the deliveries in hand are still kept alive while all run.
                    await asyncio.wait(
                        in_flight, timeout=self._claim_interval, return_when=asyncio.FIRST_COMPLETED
                    )
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
        await self._chores()
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
        held = self._in_hand.get(delivery.job_id)
        if held is not None:
            outcome = await self._drop_duplicate(delivery, held)
        else:
            self._in_hand[delivery.job_id] = delivery
            try:
                outcome = await self._process(delivery)
            except Exception:
                log.exception("job %s: store unavailable, left for a later claim", delivery.job_id)
                outcome = Outcome.DEFERRED
            finally:
                self._in_hand.pop(delivery.job_id, None)
        self.stats[outcome] += 1
        return outcome

    async def _drop_duplicate(self, delivery: Delivery, held: Delivery) -> Outcome:
        """A second delivery of a job in hand (a recovery's): the run in hand will finish it."""
        if delivery.delivery_id != held.delivery_id:
            await self._ack(delivery)
        return Outcome.DUPLICATE

    async def _chores(self) -> None:
        """What is due between receives; each logs its own failure, so work goes on."""
        now = self._clock()
        if now >= self._next_keep_alive_at:
            self._next_keep_alive_at = now + self._claim_interval
            await self._keep_alive()
        if now >= self._next_recover_at:
            self._next_recover_at = now + self._recover_interval
            await self._recover()

    async def _keep_alive(self) -> None:
        if not self._in_hand:
            return
        try:
            await self._queue.keep_alive(self.consumer, list(self._in_hand.values()))
        except Exception:
            log.warning("could not keep the jobs in hand alive", exc_info=True)

    async def _recover(self) -> None:
        """Enqueues again the active jobs the queue may have lost (see the module doc)."""
        try:
            stranded = await self._store.stranded(
                idle_seconds=self._claim_idle_ms / 1000, limit=_RECOVER_BATCH
            )
            lost = [job_id for job_id in stranded if job_id not in self._in_hand]
            for job_id in lost:
                await self._queue.enqueue(job_id)
        except Exception:
            log.warning("job recovery failed; retrying next round", exc_info=True)
            return
        if lost:
            log.warning("enqueued %d stranded jobs again", len(lost))

    async def _next_deliveries(self, count: int) -> list[Delivery]:
        try:
            if self._clock() >= self._next_claim_at:
                claimed = await self._queue.claim_stale(self.consumer, self._claim_idle_ms, count)
                # A full batch suggests more are waiting: claim again next round.
                full = len(claimed) >= count
                self._next_claim_at = self._clock() + (0 if full else self._claim_interval)
                # Our own deliveries still running (idle only if a keep-alive failed): not again.
                mine = {held.delivery_id for held in self._in_hand.values()}
                claimed = [delivery for delivery in claimed if delivery.delivery_id not in mine]
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
