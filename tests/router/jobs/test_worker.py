"""The worker end to end: SQLite or PostgreSQL for the rows, in-process or Redis for the queue.

`run` is a small async function standing in for the router. The claims tests abandon a
consumer mid-way, as a crashed process would, and check that every job still ends with exactly
one result: from the rows, and from a count of the finish calls that won.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import pytest

from services.router.chat import ChatRequest, Completion
from services.router.jobs.model import Job, JobState
from services.router.jobs.queue import Delivery, InProcessJobQueue, JobQueue
from services.router.jobs.service import JobService
from services.router.jobs.store import JobStore
from services.router.jobs.worker import JobWorker, Outcome, describe_failure
from services.router.providers.base import ProviderError
from svckit.errors import ResourceExhausted

from .conftest import FakeClock, QueueCase, chat_request, completion_for

IDLE_MS = 30


class CountingStore(JobStore):
    """The real store, counting the finish calls that won, per job."""

    wins: Counter[str]

    def __init__(self, store: JobStore) -> None:
        super().__init__(store._engine, clock=store._clock)
        self.wins = Counter()
        self.fail_next_finish = False

    async def finish_success(self, job_id: str, completion: Completion, *, worker: str) -> bool:
        if self.fail_next_finish:
            self.fail_next_finish = False
            raise ConnectionError("database went away")
        won = await super().finish_success(job_id, completion, worker=worker)
        self.wins[job_id] += won
        return won


class Echo:
    """The `run` of these tests: answers with the request's last message, counting calls."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.cancelled = 0
        self.failure: Exception | None = None

    async def __call__(self, request: ChatRequest) -> Completion:
        self.calls[request.messages[-1].content] += 1
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.failure is not None:
            raise self.failure
        return completion_for(request)


@pytest.fixture
def counting_store(store: JobStore) -> CountingStore:
    return CountingStore(store)


@pytest.fixture
def service(counting_store: CountingStore, queue_case: QueueCase) -> JobService:
    return JobService(counting_store, queue_case.queue)


def make_worker(
    store: JobStore,
    queue_case: QueueCase,
    run: Callable[[ChatRequest], Awaitable[Completion]],
    name: str = "worker-b",
    **options: object,
) -> JobWorker:
    settings: dict[str, object] = {
        "consumer_name": name,
        "concurrency": 8,
        "claim_idle_ms": IDLE_MS,
        "block_ms": 20,
        "clock": FakeClock(),
    }
    settings.update(options)
    return JobWorker(store, queue_case.queue, run, **settings)  # type: ignore[arg-type]


async def submit_many(service: JobService, count: int) -> list[Job]:
    return [await service.submit(chat_request(f"job {n}")) for n in range(count)]


async def until(
    condition: Callable[[], Awaitable[bool]], *, between: Callable[[], Awaitable[None]]
) -> None:
    """Polls `condition`, calling `between` in between; fails after about ten seconds."""
    for _ in range(1000):
        if await condition():
            return
        await between()
    pytest.fail("condition not reached")


async def test_worker_runs_a_job_and_stores_its_result(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    echo = Echo()
    job = await service.submit(chat_request("hi"))
    worker = make_worker(counting_store, queue_case, echo)

    assert await worker.run_once() == [Outcome.SUCCEEDED]

    done = await service.get(job.id)
    assert (done.state, done.result, done.attempts) == (
        JobState.SUCCEEDED,
        completion_for(job.request),
        1,
    )
    assert done.worker == "worker-b"
    await queue_case.make_idle(IDLE_MS + 10)
    assert await queue_case.queue.claim_stale("c", min_idle_ms=IDLE_MS, count=10) == []


async def test_a_failing_run_stores_the_code_and_message_without_secrets(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    echo = Echo()
    echo.failure = RuntimeError("upstream said no to key sk-live-abcdefghijkl")
    job = await service.submit(chat_request())
    worker = make_worker(counting_store, queue_case, echo)

    assert await worker.run_once() == [Outcome.FAILED]

    done = await service.get(job.id)
    assert (done.state, done.error_code, done.error_message) == (
        JobState.FAILED,
        "INTERNAL",
        "internal error",
    )


async def test_job_cancelled_before_delivery_is_acknowledged_without_running(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    echo = Echo()
    job = await service.submit(chat_request())
    await service.cancel(job.id)
    worker = make_worker(counting_store, queue_case, echo)

    assert await worker.run_once() == [Outcome.SKIPPED]

    assert echo.calls == Counter()
    await queue_case.make_idle(IDLE_MS + 10)
    assert await queue_case.queue.claim_stale("c", min_idle_ms=IDLE_MS, count=10) == []


async def test_cancel_while_running_leaves_the_job_cancelled(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    echo = Echo()
    echo.release.clear()
    job = await service.submit(chat_request())
    worker = make_worker(counting_store, queue_case, echo)
    running = asyncio.create_task(worker.run_once())
    await echo.started.wait()

    await service.cancel(job.id)
    echo.release.set()

    assert await running == [Outcome.LOST]
    done = await service.get(job.id)
    assert (done.state, done.result) == (JobState.CANCELLED, None)


async def test_cancel_aborts_the_run_of_a_worker_in_the_same_process(
    counting_store: CountingStore, queue_case: QueueCase
) -> None:
    echo = Echo()
    echo.release.clear()
    worker = make_worker(counting_store, queue_case, echo)
    service = JobService(counting_store, queue_case.queue, abort_local=worker.abort)
    job = await service.submit(chat_request())
    running = asyncio.create_task(worker.run_once())
    await echo.started.wait()

    cancelled = await service.cancel(job.id)

    assert await running == [Outcome.ABORTED]
    assert echo.cancelled == 1
    assert cancelled.state is JobState.CANCELLED
    assert (await service.get(job.id)).state is JobState.CANCELLED
    assert not worker.abort(job.id)  # no longer running here


async def test_jobs_of_a_crashed_consumer_are_finished_by_another_exactly_once(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    """The crashed consumer received all jobs; it had started some and finished one (its
    result committed, its ack never sent) before it died."""
    jobs = await submit_many(service, 20)
    crashed = await queue_case.queue.receive("crashed", count=20, block_ms=0)
    for job in jobs[:5]:
        await counting_store.start(job.id, worker="crashed")
    first = completion_for(jobs[0].request)
    assert await counting_store.finish_success(jobs[0].id, first, worker="crashed")
    assert len(crashed) == 20
    echo = Echo()
    survivor = make_worker(counting_store, queue_case, echo, concurrency=8)

    await queue_case.make_idle(IDLE_MS + 10)
    outcomes: list[Outcome] = []
    for _ in range(5):
        outcomes += await survivor.run_once()

    assert Counter(outcomes) == {Outcome.SUCCEEDED: 19, Outcome.SKIPPED: 1}
    assert counting_store.wins == {job.id: 1 for job in jobs}
    for n, job in enumerate(jobs):
        done = await counting_store.get(job.id)
        assert done is not None
        assert (done.state, done.result) == (JobState.SUCCEEDED, completion_for(job.request))
        assert done.attempts == (1 if n == 0 else 2 if n < 5 else 1)
    assert echo.calls == {f"job {n}": 1 for n in range(1, 20)}


async def test_a_store_failure_leaves_the_delivery_for_a_later_claim(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    job = await service.submit(chat_request())
    worker_clock = FakeClock()
    worker = make_worker(counting_store, queue_case, Echo(), clock=worker_clock)
    counting_store.fail_next_finish = True

    assert await worker.run_once() == [Outcome.DEFERRED]
    assert (await service.get(job.id)).state is JobState.RUNNING

    await queue_case.make_idle(IDLE_MS + 10)
    worker_clock.advance(IDLE_MS / 1000)
    assert await worker.run_once() == [Outcome.SUCCEEDED]
    done = await service.get(job.id)
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 2)


async def test_two_hundred_jobs_three_workers_one_crashing_each_finished_exactly_once(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    """Worker 0 takes eight jobs and hangs on them, then its task is cancelled (a crash) as the
    other two start: they finish all 200, claiming worker 0's jobs once they are idle."""
    jobs = await submit_many(service, 200)
    hung = Echo()
    hung.release.clear()
    healthy = Echo()
    hung_runs = 0
    all_hung = asyncio.Event()

    async def hang(request: ChatRequest) -> Completion:
        nonlocal hung_runs
        hung_runs += 1
        if hung_runs == 8:
            all_hung.set()
        return await hung(request)

    def worker(name: str, run: Callable[[ChatRequest], Awaitable[Completion]]) -> JobWorker:
        return make_worker(
            counting_store,
            queue_case,
            run,
            name,
            claim_interval_ms=10,
            clock=asyncio.get_running_loop().time,
        )

    workers = [worker("w0", hang), worker("w1", healthy), worker("w2", healthy)]
    tasks = [asyncio.create_task(workers[0].run_forever())]
    await all_hung.wait()
    tasks += [asyncio.create_task(w.run_forever()) for w in workers[1:]]
    tasks[0].cancel()

    async def all_succeeded() -> bool:
        return await counting_store.count_by_state() == {JobState.SUCCEEDED: 200}

    async def let_time_pass() -> None:
        await queue_case.make_idle(IDLE_MS)
        await asyncio.sleep(0.01)

    await until(all_succeeded, between=let_time_pass)
    for w in workers:
        w.stop()
    await asyncio.gather(*tasks, return_exceptions=True)

    assert counting_store.wins == {job.id: 1 for job in jobs}
    wins = sum(w.stats[Outcome.SUCCEEDED] for w in workers)
    assert wins == 200
    assert workers[0].stats[Outcome.SUCCEEDED] == 0
    # Worker 0's jobs were taken again (more than once, if a claimer was slow in turn).
    abandoned = [job for job in jobs if job.request.messages[-1].content in hung.calls]
    assert len(abandoned) == 8
    for job in abandoned:
        done = await counting_store.get(job.id)
        assert done is not None
        assert done.attempts >= 2
        assert done.worker in {"w1", "w2"}


async def test_worker_pauses_and_carries_on_when_the_queue_fails(
    counting_store: CountingStore,
) -> None:
    class BrokenOnce(InProcessJobQueue):
        broken = True

        async def receive(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
            if self.broken:
                self.broken = False
                raise ConnectionError("queue went away")
            return await super().receive(consumer, count, block_ms)

    queue = BrokenOnce()
    await JobService(counting_store, queue).submit(chat_request())
    worker = JobWorker(counting_store, queue, Echo(), consumer_name="w", error_pause_seconds=0)

    assert await worker.run_once() == []
    assert await worker.run_once() == [Outcome.SUCCEEDED]


async def test_a_failed_acknowledgement_is_logged_and_the_redelivery_skipped(
    counting_store: CountingStore,
) -> None:
    class AckFailsOnce(InProcessJobQueue):
        failed = False

        async def ack(self, delivery: Delivery) -> None:
            if not self.failed:
                self.failed = True
                raise ConnectionError("queue went away")
            await super().ack(delivery)

    queue_clock = FakeClock()
    queue = AckFailsOnce(clock=queue_clock)
    job = await JobService(counting_store, queue).submit(chat_request())
    worker_clock = FakeClock()
    worker = JobWorker(
        counting_store, queue, Echo(), consumer_name="w", claim_idle_ms=IDLE_MS, clock=worker_clock
    )

    assert await worker.run_once() == [Outcome.SUCCEEDED]
    queue_clock.advance(1)
    worker_clock.advance(1)
    assert await worker.run_once() == [Outcome.SKIPPED]
    assert queue.pending_count() == 0
    assert counting_store.wins == {job.id: 1}


async def test_stop_returns_after_the_jobs_in_hand_are_finished(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    jobs = await submit_many(service, 3)
    worker = make_worker(counting_store, queue_case, Echo())
    task = asyncio.create_task(worker.run_forever())

    async def all_taken() -> bool:
        return sum(worker.stats.values()) == 3

    async def pause() -> None:
        await asyncio.sleep(0.01)

    await until(all_taken, between=pause)
    worker.stop()
    await task
    assert await counting_store.count_by_state() == {JobState.SUCCEEDED: len(jobs)}


class Watched:
    """A queue counting the claim rounds and keep-alives made through it; the keep-alives may
    be made to fail (a queue hiccup), leaving the worker's deliveries to look idle."""

    def __init__(self, queue: JobQueue, *, keep_alive_fails: bool = False) -> None:
        self._queue = queue
        self._keep_alive_fails = keep_alive_fails
        self.claims = 0

    async def enqueue(self, job_id: str) -> None:
        await self._queue.enqueue(job_id)

    async def receive(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        return await self._queue.receive(consumer, count, block_ms)

    async def ack(self, delivery: Delivery) -> None:
        await self._queue.ack(delivery)

    async def claim_stale(self, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        claimed = await self._queue.claim_stale(consumer, min_idle_ms, count)
        self.claims += 1
        return claimed

    async def keep_alive(self, consumer: str, deliveries: Sequence[Delivery]) -> None:
        if self._keep_alive_fails:
            raise ConnectionError("queue went away")
        await self._queue.keep_alive(consumer, deliveries)

    async def aclose(self) -> None:
        await self._queue.aclose()


async def go_round_twice(queue: Watched, worker_clock: FakeClock, interval_ms: int) -> None:
    """Moves the worker's clock to two more claim rounds and waits for each: the first may
    take the idle deliveries, the second lets whatever it took get started."""

    async def pause() -> None:
        await asyncio.sleep(0.01)

    for _ in range(2):
        target = queue.claims + 1
        worker_clock.advance(interval_ms / 1000)

        async def claimed(target: int = target) -> bool:
            return queue.claims >= target

        await until(claimed, between=pause)


@pytest.mark.parametrize("keep_alive_fails", [False, True], ids=["kept-alive", "keep-alive-fails"])
async def test_a_slow_job_is_not_started_twice_by_its_own_live_worker(
    service: JobService,
    counting_store: CountingStore,
    queue_case: QueueCase,
    keep_alive_fails: bool,
) -> None:
    """The job runs longer than the claim idle time; the worker's own claim rounds must not
    hand it back to it, whether or not its keep-alives get through."""
    echo = Echo()
    echo.release.clear()
    job = await service.submit(chat_request("slow"))
    queue = Watched(queue_case.queue, keep_alive_fails=keep_alive_fails)
    worker_clock = FakeClock()
    worker = JobWorker(
        counting_store,
        queue,
        echo,
        consumer_name="live",
        claim_idle_ms=IDLE_MS,
        block_ms=20,
        clock=worker_clock,
    )
    task = asyncio.create_task(worker.run_forever())
    await echo.started.wait()

    await queue_case.make_idle(IDLE_MS + 10)
    await go_round_twice(queue, worker_clock, IDLE_MS)

    assert echo.calls == {"slow": 1}
    assert (await service.get(job.id)).attempts == 1
    echo.release.set()
    worker.stop()
    await task
    done = await service.get(job.id)
    assert (done.state, done.attempts) == (JobState.SUCCEEDED, 1)
    assert counting_store.wins == {job.id: 1}


async def test_another_worker_does_not_claim_a_live_workers_slow_job(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    idle_ms = 300  # on Redis, real time: a margin between the keep-alive and the other's claim
    slow = Echo()
    slow.release.clear()
    job = await service.submit(chat_request("slow"))
    queue = Watched(queue_case.queue)
    live_clock = FakeClock()
    live = make_worker(
        counting_store, queue_case, slow, "live", claim_idle_ms=idle_ms, clock=live_clock
    )
    live._queue = queue  # watched, to know when it went round again
    task = asyncio.create_task(live.run_forever())
    await slow.started.wait()

    await queue_case.make_idle(idle_ms + 10)
    await go_round_twice(queue, live_clock, idle_ms)
    other = make_worker(counting_store, queue_case, Echo(), "other", claim_idle_ms=idle_ms)

    assert await other.run_once() == []
    assert slow.calls == {"slow": 1}
    slow.release.set()
    live.stop()
    await task
    done = await service.get(job.id)
    assert (done.state, done.attempts, done.worker) == (JobState.SUCCEEDED, 1, "live")


async def test_a_job_submitted_before_a_restart_finishes_after_it(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase, clock: FakeClock
) -> None:
    job = await service.submit(chat_request("before the restart"))
    queue = await queue_case.restart()
    clock.advance(1)  # the row is now older than the claim idle time
    worker = JobWorker(
        counting_store, queue, Echo(), consumer_name="after", claim_idle_ms=IDLE_MS, block_ms=0
    )

    assert await worker.run_once() == [Outcome.SUCCEEDED]

    done = await service.get(job.id)
    assert (done.state, done.result, done.attempts) == (
        JobState.SUCCEEDED,
        completion_for(job.request),
        1,
    )
    assert await worker.run_once() == []  # recovered once, not again every round


async def test_a_job_running_when_its_router_stopped_finishes_after_the_restart(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase, clock: FakeClock
) -> None:
    job = await service.submit(chat_request("in hand"))
    assert len(await queue_case.queue.receive("stopped", count=1, block_ms=0)) == 1
    await counting_store.start(job.id, worker="stopped")
    queue = await queue_case.restart()
    clock.advance(1)
    worker = JobWorker(
        counting_store, queue, Echo(), consumer_name="after", claim_idle_ms=IDLE_MS, block_ms=0
    )

    assert await worker.run_once() == [Outcome.SUCCEEDED]

    done = await service.get(job.id)
    assert (done.state, done.attempts, done.worker) == (JobState.SUCCEEDED, 2, "after")
    assert counting_store.wins == {job.id: 1}


async def test_a_job_stored_but_never_enqueued_is_recovered(
    counting_store: CountingStore, queue_case: QueueCase, clock: FakeClock
) -> None:
    """A crash between the SQL insert and the enqueue."""
    job = await counting_store.create(chat_request("never enqueued"))
    worker = make_worker(counting_store, queue_case, Echo(), block_ms=0)
    assert await worker.run_once() == []  # younger than the claim idle time: left alone

    clock.advance(1)
    recovering = make_worker(counting_store, queue_case, Echo(), block_ms=0)

    assert await recovering.run_once() == [Outcome.SUCCEEDED]
    assert counting_store.wins == {job.id: 1}


async def test_a_recovered_duplicate_of_a_job_in_hand_is_only_acknowledged(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase, clock: FakeClock
) -> None:
    """The job was only slow to be taken: recovery enqueued it again, and one worker receives
    both deliveries together."""
    echo = Echo()
    job = await service.submit(chat_request("twice queued"))
    clock.advance(1)
    worker = make_worker(counting_store, queue_case, echo)

    assert Counter(await worker.run_once()) == {Outcome.SUCCEEDED: 1, Outcome.DUPLICATE: 1}

    assert echo.calls == {"twice queued": 1}
    assert counting_store.wins == {job.id: 1}
    assert (await service.get(job.id)).attempts == 1
    await queue_case.make_idle(IDLE_MS + 10)
    assert await queue_case.queue.claim_stale("c", min_idle_ms=IDLE_MS, count=10) == []


async def test_duplicate_deliveries_on_two_workers_write_one_result(
    service: JobService, counting_store: CountingStore, queue_case: QueueCase
) -> None:
    """The worst case of a recovery: two workers run the same job at once; the conditional
    finish lets one result through, and a later copy is only acknowledged."""
    echo = Echo()
    echo.release.clear()
    job = await service.submit(chat_request("duplicated"))
    await queue_case.queue.enqueue(job.id)
    await queue_case.queue.enqueue(job.id)
    first, second, third = (make_worker(counting_store, queue_case, echo, n) for n in "abc")
    [one] = await queue_case.queue.receive("a", count=1, block_ms=0)
    [two] = await queue_case.queue.receive("b", count=1, block_ms=0)
    runs = asyncio.gather(first.process(one), second.process(two))

    async def both_running() -> bool:
        return sum(echo.calls.values()) == 2

    async def pause() -> None:
        await asyncio.sleep(0.01)

    await until(both_running, between=pause)
    echo.release.set()

    assert Counter(await runs) == {Outcome.SUCCEEDED: 1, Outcome.LOST: 1}
    [three] = await queue_case.queue.receive("c", count=1, block_ms=0)
    assert await third.process(three) == Outcome.SKIPPED
    assert counting_store.wins == {job.id: 1}
    done = await service.get(job.id)
    assert (done.state, done.result, done.attempts) == (
        JobState.SUCCEEDED,
        completion_for(job.request),
        2,
    )


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            ProviderError("openai/gpt-4o: upstream 503", retryable=True, status=503),
            "UNAVAILABLE",
            "openai/gpt-4o: upstream 503",
        ),
        (
            ProviderError("openai/gpt-4o: timed out", retryable=True, reason="UPSTREAM_TIMEOUT"),
            "DEADLINE_EXCEEDED",
            "openai/gpt-4o: timed out",
        ),
        (
            ProviderError("429", retryable=True, status=429, reason="UPSTREAM_RATE_LIMITED"),
            "RESOURCE_EXHAUSTED",
            "429",
        ),
        (ResourceExhausted("budget exhausted"), "RESOURCE_EXHAUSTED", "budget exhausted"),
        (TimeoutError(), "DEADLINE_EXCEEDED", "the completion timed out"),
        (KeyError("sk-live-abcdefghijkl"), "INTERNAL", "internal error"),
    ],
)
def test_failures_map_to_a_grpc_code_and_a_safe_message(
    error: Exception, code: str, message: str
) -> None:
    assert describe_failure(error) == (code, message)


def test_a_secret_in_a_provider_message_is_redacted() -> None:
    _code, message = describe_failure(
        ProviderError("rejected key sk-live-abcdefghijkl", retryable=False)
    )
    assert "sk-live" not in message
