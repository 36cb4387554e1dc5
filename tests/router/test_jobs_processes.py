"""Async jobs across processes, as the router's acceptance asks: 500 jobs, two router
processes working them, one killed mid-way (SIGKILL, no shutdown code runs); every result is
there, written once, and the survivor finished what the dead one held."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from services.router.jobs.schema import create_engine
from tests.service_process import ServiceProcess, stop_all

from .service_calls import ask

pytestmark = pytest.mark.slow

JOBS = 500
KILL_AFTER = 120
CATALOGUE = """
models:
  slow-mock:
    deployments:
      - {name: mock, provider: mock, upstream_model: mock-1, options: {latency_seconds: 0.1}}
"""


async def test_a_killed_workers_jobs_are_finished_by_the_other_each_exactly_once(
    redis_available: str, key_prefix: str, postgres_url: str, tmp_path: Path
) -> None:
    models = tmp_path / "models.yaml"
    models.write_text(CATALOGUE)
    env = {
        "ROUTER_MODELS_FILE": str(models),
        "ROUTER_REDIS_URL": redis_available,
        "ROUTER_KEY_PREFIX": key_prefix,
        "ROUTER_DATABASE_URL": postgres_url,
        "ROUTER_JOB_WORKERS": "8",
        "ROUTER_JOB_CLAIM_IDLE_SECONDS": "1",
    }
    survivor = ServiceProcess(env, tmp_path / "survivor.log", "router")
    victim = ServiceProcess(env, tmp_path / "victim.log", "router")
    engine = create_engine(postgres_url)
    try:
        await asyncio.gather(asyncio.to_thread(survivor.start), asyncio.to_thread(victim.start))
        async with grpc.aio.insecure_channel(survivor.address) as channel:
            stub = pb_grpc.RouterServiceStub(channel)
            submitted = await asyncio.gather(
                *(
                    stub.SubmitJob(pb.SubmitJobRequest(request=ask("slow-mock", f"job {i}")))
                    for i in range(JOBS)
                )
            )
            ids = [reply.job.job_id for reply in submitted]
            await _until(engine, f"count(*) >= {KILL_AFTER}", "state = 'succeeded'")
            victim_name = await _running_worker_other_than(engine, survivor)
            await asyncio.to_thread(victim.kill)
            await _until(engine, f"count(*) = {JOBS}", "state = 'succeeded'", within=120)
            jobs = [(await stub.GetJob(pb.GetJobRequest(job_id=i))).job for i in ids]
        rows = await _rows(engine)
    finally:
        await engine.dispose()
        await asyncio.to_thread(stop_all, [survivor])
        if victim.process is not None and victim.process.poll() is None:
            victim.kill()
    assert len(set(ids)) == JOBS
    assert all(job.state == pb.JOB_STATE_SUCCEEDED for job in jobs)
    contents = [job.result.choices[0].message.content for job in jobs]
    assert all(f"job {i}" in content for i, content in enumerate(contents))
    assert len(rows) == JOBS  # one row, so one result, per job
    finished_by = {worker for _, worker, _ in rows}
    assert victim_name in finished_by
    assert len(finished_by) == 2
    retried = [job_id for job_id, worker, attempts in rows if attempts > 1]
    assert retried, "the killed worker held no job: the test proved nothing"


async def _until(engine: AsyncEngine, having: str, where: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    query = text(f"SELECT {having} FROM router_jobs WHERE {where}")
    while True:
        async with engine.connect() as conn:
            if (await conn.execute(query)).scalar():
                return
        assert time.monotonic() < deadline, f"never reached {having} where {where}"
        await asyncio.sleep(0.05)


async def _running_worker_other_than(engine: AsyncEngine, survivor: ServiceProcess) -> str:
    assert survivor.process is not None
    query = text("SELECT DISTINCT worker FROM router_jobs WHERE worker <> ''")
    async with engine.connect() as conn:
        workers = {row[0] for row in (await conn.execute(query)).all()}
    others = [w for w in workers if not w.endswith(f"-{survivor.process.pid}")]
    assert len(others) == 1, workers
    return str(others[0])


async def _rows(engine: AsyncEngine) -> list[tuple[str, str, int]]:
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT id, worker, attempts FROM router_jobs"))
        return [(row[0], row[1], row[2]) for row in result.all()]
