"""A job: one chat completion run in the background, and the states it moves through.

    queued ──> running ──> succeeded | failed
       └──────────┴──────> cancelled

`running` may be entered again (a second worker claims a crashed worker's job, `attempts` counts
the takes); the three final states are never left. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.router.chat import ChatRequest, Completion


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self not in ACTIVE_STATES


ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
"""The states a worker may still finish and a caller may still cancel."""


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    state: JobState
    request: ChatRequest
    created_at: datetime
    webhook_url: str = ""
    result: Completion | None = None
    """Set once succeeded."""
    error_code: str = ""
    """Once failed: a gRPC status code name (UNAVAILABLE, DEADLINE_EXCEEDED, ...)."""
    error_message: str = ""
    attempts: int = 0
    """Times a worker took the job; more than one after a worker crashed or was slow."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str = ""
    """The consumer that last took the job, or that wrote its result."""


def new_job_id() -> str:
    """32 hex characters: unguessable, so a job id is enough to read a job's result."""
    return uuid.uuid4().hex
