"""The job rows, and the one rule that makes a result exactly-once: conditional UPDATEs.

Every transition is a single `UPDATE ... WHERE id = :id AND state IN ('queued', 'running')`.
Whoever's UPDATE matches the row first wins; everyone after finds a final state and matches
nothing, so `finish_*` and `cancel` return False and write nothing. This holds on PostgreSQL
(READ COMMITTED re-checks the WHERE clause after waiting for the winner's row lock) and on SQLite
(writers are serialised). Each method is one statement in its own transaction: no
read-then-write, which on SQLite could deadlock two writers upgrading their locks.

Delivery of jobs to workers is at least once (see `queue`); this store is what turns that into
one result, so no lease is kept here: the queue's pending list is the lease. The rows are the
source of truth, though: `stranded` finds the active jobs nobody has touched for a while, whose
delivery a restart (in-process queue), a crash before the enqueue or a lost Redis stream may
have taken away, so that the worker can put them on the queue again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import RowMapping, Table, Update, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.chat import ChatRequest, Completion
from services.router.jobs.job_codec import (
    decode_completion,
    decode_request,
    encode_completion,
    encode_request,
)
from services.router.jobs.model import ACTIVE_STATES, Job, JobState, new_job_id
from services.router.jobs.tables import JobRow

_JOBS = cast(Table, JobRow.__table__)
_ACTIVE = [state.value for state in ACTIVE_STATES]


class JobStore:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    async def create(
        self, request: ChatRequest, *, webhook_url: str = "", job_id: str | None = None
    ) -> Job:
        job = Job(
            id=job_id or new_job_id(),
            state=JobState.QUEUED,
            request=request,
            created_at=self._now(),
            webhook_url=webhook_url,
        )
        values = {
            "id": job.id,
            "state": job.state.value,
            "request": encode_request(request),
            "webhook_url": webhook_url,
            "result": None,
            "error_code": "",
            "error_message": "",
            "attempts": 0,
            "created_at": job.created_at,
            "started_at": None,
            "finished_at": None,
            "worker": "",
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(_JOBS).values(values))
        return job

    async def get(self, job_id: str) -> Job | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(_JOBS).where(_JOBS.c.id == job_id))).first()
        return None if row is None else _to_job(row._mapping)

    async def start(self, job_id: str, *, worker: str) -> Job | None:
        """Marks the job running for `worker` (one more attempt) and returns it; None when the
        job is missing or already final, so the caller only acknowledges the delivery."""
        statement = (
            _active(job_id)
            .values(
                state=JobState.RUNNING.value,
                attempts=_JOBS.c.attempts + 1,
                started_at=self._now(),
                worker=worker,
            )
            .returning(*_JOBS.c)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(statement)).first()
        return None if row is None else _to_job(row._mapping)

    async def finish_success(self, job_id: str, completion: Completion, *, worker: str) -> bool:
        """Stores the result unless the job is already final; True when this call wrote it."""
        return await self._finish(
            job_id,
            state=JobState.SUCCEEDED,
            result=encode_completion(completion),
            worker=worker,
        )

    async def finish_failure(self, job_id: str, *, code: str, message: str, worker: str) -> bool:
        """Stores the failure unless the job is already final; True when this call wrote it."""
        return await self._finish(
            job_id, state=JobState.FAILED, error_code=code, error_message=message, worker=worker
        )

    async def cancel(self, job_id: str) -> bool:
        """Cancels the job unless it is already final (or missing); True when this call did."""
        return await self._finish(job_id, state=JobState.CANCELLED)

    async def stranded(self, *, idle_seconds: float, limit: int) -> list[str]:
        """Ids of active jobs not touched for `idle_seconds` (queued and never started, or last
        started that long ago), oldest first."""
        cutoff = datetime.fromtimestamp(self._clock() - idle_seconds, UTC)
        touched = func.coalesce(_JOBS.c.started_at, _JOBS.c.created_at)
        statement = (
            select(_JOBS.c.id)
            .where(_JOBS.c.state.in_(_ACTIVE), touched < cutoff)
            .order_by(touched)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(statement)).scalars())

    async def count_by_state(self) -> dict[JobState, int]:
        statement = select(_JOBS.c.state, func.count()).group_by(_JOBS.c.state)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(statement)).all()
        return {JobState(state): count for state, count in rows}

    async def _finish(self, job_id: str, *, state: JobState, **values: Any) -> bool:
        statement = _active(job_id).values(state=state.value, finished_at=self._now(), **values)
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def _active(job_id: str) -> Update:
    return update(_JOBS).where(_JOBS.c.id == job_id, _JOBS.c.state.in_(_ACTIVE))


def _to_job(row: RowMapping) -> Job:
    return Job(
        id=row["id"],
        state=JobState(row["state"]),
        request=decode_request(row["request"]),
        created_at=_utc(row["created_at"]),
        webhook_url=row["webhook_url"],
        result=None if row["result"] is None else decode_completion(row["result"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
        attempts=row["attempts"],
        started_at=_utc_or_none(row["started_at"]),
        finished_at=_utc_or_none(row["finished_at"]),
        worker=row["worker"],
    )


def _utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)
