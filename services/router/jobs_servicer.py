"""The job RPCs of switchboard.router.v1, mixed into the router's servicer."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from switchboard.router.v1 import router_service_pb2 as pb

from services.router import convert
from services.router.chat import ChatRequest
from services.router.jobs.model import Job, JobState
from services.router.jobs.service import JobService
from svckit.errors import InvalidArgument

_STATE = {
    JobState.QUEUED: pb.JOB_STATE_QUEUED,
    JobState.RUNNING: pb.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: pb.JOB_STATE_SUCCEEDED,
    JobState.FAILED: pb.JOB_STATE_FAILED,
    JobState.CANCELLED: pb.JOB_STATE_CANCELLED,
}


class JobsServicerPart:
    def __init__(
        self, jobs: JobService, chat_request: Callable[[pb.CompleteRequest], ChatRequest]
    ) -> None:
        self._jobs = jobs
        self._chat_request = chat_request

    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitJobResponse:
        if not request.HasField("request"):
            raise InvalidArgument.field("request", "is required")
        job = await self._jobs.submit(
            self._chat_request(request.request), webhook_url=request.webhook_url
        )
        return pb.SubmitJobResponse(job=job_message(job))

    async def GetJob(
        self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJobResponse:
        return pb.GetJobResponse(job=job_message(await self._jobs.get(request.job_id)))

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelJobResponse:
        return pb.CancelJobResponse(job=job_message(await self._jobs.cancel(request.job_id)))


def job_message(job: Job) -> pb.Job:
    message = pb.Job(
        job_id=job.id,
        state=_STATE[job.state],
        error_code=job.error_code,
        error_message=job.error_message,
        attempts=job.attempts,
        created=convert.timestamp(job.created_at.timestamp()),
    )
    if job.finished_at is not None:
        message.finished.CopyFrom(convert.timestamp(job.finished_at.timestamp()))
    if job.result is not None:
        message.result.CopyFrom(convert.completion_message(job.result, job.request.model))
    return message
