"""The job store on SQLite and PostgreSQL: transitions, and exactly one winning finish."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from services.router.jobs.model import JobState
from services.router.jobs.store import JobStore

from .conftest import START, FakeClock, chat_request, completion_for

AT_START = datetime.fromtimestamp(START, UTC)


async def test_created_job_is_queued_and_reads_back_with_its_request(store: JobStore) -> None:
    request = chat_request("summarise this")
    created = await store.create(request, webhook_url="https://hooks.example/jobs")

    job = await store.get(created.id)

    assert job == created
    assert job.state is JobState.QUEUED
    assert job.request == request
    assert job.created_at == AT_START
    assert (job.attempts, job.result, job.started_at, job.finished_at) == (0, None, None, None)


async def test_created_job_may_be_given_its_id(store: JobStore) -> None:
    job = await store.create(chat_request(), job_id="given-id")
    assert (await store.get("given-id")) == job


async def test_unknown_job_reads_as_none(store: JobStore) -> None:
    assert await store.get("no-such-job") is None


async def test_start_marks_running_counts_the_attempt_and_names_the_worker(
    store: JobStore, clock: FakeClock
) -> None:
    job = await store.create(chat_request())
    clock.advance(2)

    started = await store.start(job.id, worker="worker-a")

    assert started is not None
    assert (started.state, started.attempts, started.worker) == (JobState.RUNNING, 1, "worker-a")
    assert started.started_at == datetime.fromtimestamp(START + 2, UTC)
    assert started == await store.get(job.id)


async def test_a_claimed_job_started_again_counts_a_second_attempt(store: JobStore) -> None:
    job = await store.create(chat_request())
    await store.start(job.id, worker="worker-a")

    again = await store.start(job.id, worker="worker-b")

    assert again is not None
    assert (again.attempts, again.worker) == (2, "worker-b")


async def test_start_of_a_final_or_missing_job_returns_none(store: JobStore) -> None:
    job = await store.create(chat_request())
    assert await store.cancel(job.id)

    assert await store.start(job.id, worker="worker-a") is None
    assert await store.start("no-such-job", worker="worker-a") is None
    assert (await store.get(job.id)).attempts == 0  # type: ignore[union-attr]


async def test_finish_success_stores_the_result(store: JobStore, clock: FakeClock) -> None:
    job = await store.create(chat_request("hi"))
    await store.start(job.id, worker="worker-a")
    clock.advance(5)
    completion = completion_for(job.request)

    assert await store.finish_success(job.id, completion, worker="worker-a")

    done = await store.get(job.id)
    assert done is not None
    assert (done.state, done.result, done.worker) == (JobState.SUCCEEDED, completion, "worker-a")
    assert done.finished_at == datetime.fromtimestamp(START + 5, UTC)


async def test_finish_failure_stores_code_and_message(store: JobStore) -> None:
    job = await store.create(chat_request())
    await store.start(job.id, worker="worker-a")

    assert await store.finish_failure(
        job.id, code="UNAVAILABLE", message="every deployment failed", worker="worker-a"
    )

    done = await store.get(job.id)
    assert done is not None
    assert (done.state, done.error_code, done.error_message, done.result) == (
        JobState.FAILED,
        "UNAVAILABLE",
        "every deployment failed",
        None,
    )


async def test_second_finish_loses_and_the_first_result_stays(store: JobStore) -> None:
    job = await store.create(chat_request())
    first = completion_for(job.request, "cmpl-first")
    assert await store.finish_success(job.id, first, worker="worker-a")

    second = completion_for(job.request, "cmpl-second")
    assert not await store.finish_success(job.id, second, worker="worker-b")
    assert not await store.finish_failure(job.id, code="INTERNAL", message="x", worker="worker-b")

    done = await store.get(job.id)
    assert done is not None
    assert (done.state, done.result, done.worker) == (JobState.SUCCEEDED, first, "worker-a")


async def test_cancel_wins_over_a_later_finish(store: JobStore) -> None:
    job = await store.create(chat_request())
    await store.start(job.id, worker="worker-a")

    assert await store.cancel(job.id)
    assert not await store.finish_success(job.id, completion_for(job.request), worker="worker-a")

    done = await store.get(job.id)
    assert done is not None
    assert (done.state, done.result) == (JobState.CANCELLED, None)


async def test_cancel_of_a_finished_or_missing_job_loses(store: JobStore) -> None:
    job = await store.create(chat_request())
    await store.finish_success(job.id, completion_for(job.request), worker="worker-a")

    assert not await store.cancel(job.id)
    assert not await store.cancel("no-such-job")
    assert (await store.get(job.id)).state is JobState.SUCCEEDED  # type: ignore[union-attr]


async def test_of_many_concurrent_finishers_exactly_one_wins(store: JobStore) -> None:
    """Twenty-five successes and twenty-five failures race for each of four jobs."""
    jobs = [await store.create(chat_request(f"job {n}")) for n in range(4)]

    async def finish(job_id: str, n: int) -> tuple[str, bool]:
        if n % 2:
            won = await store.finish_failure(job_id, code="X", message=f"{n}", worker=f"w{n}")
        else:
            completion = completion_for(chat_request(), f"cmpl-{n}")
            won = await store.finish_success(job_id, completion, worker=f"w{n}")
        return f"w{n}", won

    for job in jobs:
        results = await asyncio.gather(*(finish(job.id, n) for n in range(50)))
        winners = [worker for worker, won in results if won]
        assert len(winners) == 1
        done = await store.get(job.id)
        assert done is not None
        assert done.worker == winners[0]
        assert done.state in {JobState.SUCCEEDED, JobState.FAILED}


async def test_concurrent_cancel_and_finish_have_one_winner(store: JobStore) -> None:
    job = await store.create(chat_request())
    results = await asyncio.gather(
        *(store.cancel(job.id) for _ in range(10)),
        *(store.finish_success(job.id, completion_for(job.request), worker="w") for _ in range(10)),
    )
    assert sum(results) == 1


async def test_count_by_state_counts_each_state(store: JobStore) -> None:
    jobs = [await store.create(chat_request()) for _ in range(4)]
    await store.start(jobs[0].id, worker="w")
    await store.cancel(jobs[1].id)
    await store.finish_success(jobs[2].id, completion_for(jobs[2].request), worker="w")

    assert await store.count_by_state() == {
        JobState.QUEUED: 1,
        JobState.RUNNING: 1,
        JobState.CANCELLED: 1,
        JobState.SUCCEEDED: 1,
    }


async def test_stranded_names_active_jobs_untouched_for_the_idle_time_oldest_first(
    store: JobStore, clock: FakeClock
) -> None:
    queued_old = await store.create(chat_request("queued, old"))
    clock.advance(1)
    started_old = await store.create(chat_request("started, old"))
    await store.start(started_old.id, worker="dead")
    finished_old = await store.create(chat_request("finished, old"))
    await store.start(finished_old.id, worker="w")
    await store.finish_success(finished_old.id, completion_for(finished_old.request), worker="w")
    restarted = await store.create(chat_request("started again, recently"))
    clock.advance(60)
    await store.start(restarted.id, worker="claimer")
    clock.advance(1)
    queued_new = await store.create(chat_request("queued, recent"))
    clock.advance(9)

    assert await store.stranded(idle_seconds=30, limit=10) == [queued_old.id, started_old.id]
    assert await store.stranded(idle_seconds=30, limit=1) == [queued_old.id]
    assert await store.stranded(idle_seconds=5, limit=10) == [
        queued_old.id,
        started_old.id,
        restarted.id,
        queued_new.id,
    ]
