"""JobService: what SubmitJob, GetJob and CancelJob do, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.router.jobs.model import JobState
from services.router.jobs.queue import InProcessJobQueue
from services.router.jobs.service import JobService
from services.router.jobs.store import JobStore
from services.router.jobs.webhook import WebhookSender
from svckit.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable

from .conftest import chat_request, completion_for


@pytest.fixture
def queue() -> InProcessJobQueue:
    return InProcessJobQueue()


@pytest.fixture
async def service(store: JobStore, queue: InProcessJobQueue) -> AsyncIterator[JobService]:
    webhook = WebhookSender("signing-secret")
    yield JobService(store, queue, webhook=webhook)
    await webhook.aclose()


async def test_submitted_job_is_stored_queued_and_enqueued(
    service: JobService, queue: InProcessJobQueue
) -> None:
    job = await service.submit(chat_request(), webhook_url="https://hooks.example/done")

    assert job.state is JobState.QUEUED
    assert await service.get(job.id) == job
    [delivery] = await queue.receive("w", count=10, block_ms=0)
    assert delivery.job_id == job.id


async def test_a_webhook_is_refused_while_no_signing_secret_is_set(store: JobStore) -> None:
    with pytest.raises(FailedPrecondition) as raised:
        await JobService(store, InProcessJobQueue()).submit(
            chat_request(), webhook_url="https://hooks.example/done"
        )
    assert raised.value.reason == "WEBHOOKS_DISABLED"
    assert await store.count_by_state() == {}


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "/relative", "https://", "hooks"])
async def test_a_webhook_url_must_be_absolute_http(service: JobService, url: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await service.submit(chat_request(), webhook_url=url)
    assert raised.value.violations[0].field == "webhook_url"


async def test_a_job_that_could_not_be_enqueued_is_failed_not_left_queued(store: JobStore) -> None:
    class DownQueue(InProcessJobQueue):
        async def enqueue(self, job_id: str) -> None:
            raise ConnectionError("redis went away")

    with pytest.raises(Unavailable):
        await JobService(store, DownQueue()).submit(chat_request())

    assert await store.count_by_state() == {JobState.FAILED: 1}


async def test_unknown_job_is_not_found(service: JobService) -> None:
    with pytest.raises(NotFound):
        await service.get("no-such-job")
    with pytest.raises(NotFound):
        await service.cancel("no-such-job")


async def test_cancel_cancels_and_a_second_cancel_returns_the_same_job(
    service: JobService,
) -> None:
    job = await service.submit(chat_request())

    first = await service.cancel(job.id)
    second = await service.cancel(job.id)

    assert first.state is JobState.CANCELLED
    assert first.state.is_final
    assert second == first


async def test_cancelling_a_finished_job_is_a_failed_precondition(
    service: JobService, store: JobStore
) -> None:
    job = await service.submit(chat_request())
    await store.finish_success(job.id, completion_for(job.request), worker="w")

    with pytest.raises(FailedPrecondition):
        await service.cancel(job.id)
    assert (await service.get(job.id)).state is JobState.SUCCEEDED
