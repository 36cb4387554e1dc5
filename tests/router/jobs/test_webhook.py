"""Webhooks: Stripe-style signatures, and delivery with retries to a real receiver on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.router.chat import ChatRequest, Completion
from services.router.jobs.model import Job, JobState
from services.router.jobs.queue import InProcessJobQueue
from services.router.jobs.schema import create_engine, migrate
from services.router.jobs.service import JobService
from services.router.jobs.store import JobStore
from services.router.jobs.webhook import (
    SIGNATURE_HEADER,
    WebhookSender,
    job_payload,
    sign,
    verify_signature,
)
from services.router.jobs.worker import JobWorker, Outcome

from .conftest import START, FakeClock, chat_request, completion_for

SECRET = "whsec_test_0123456789"
BODY = b'{"job_id":"j1","state":"succeeded"}'


@dataclass
class Receiver:
    """A webhook endpoint: answers with the queued statuses (then 200), records what came."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    hang_first: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        self.received.append((dict(request.headers), await request.body()))
        self.arrived.set()
        if self.hang_first > 0:
            self.hang_first -= 1
            await self.released.wait()
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.005)
    receiver.url = f"http://127.0.0.1:{port}/hook?token=receiver-token-123"
    yield receiver
    receiver.released.set()
    server.should_exit = True
    await task
    sock.close()


class Sleeps:
    """The sender's sleep: records the backoff delays and does not wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def finished_job(url: str, state: JobState = JobState.SUCCEEDED) -> Job:
    request = chat_request("hi")
    job = Job(
        id="job-1",
        state=state,
        request=request,
        created_at=datetime.fromtimestamp(START, UTC),
        webhook_url=url,
    )
    if state is JobState.SUCCEEDED:
        return replace(job, result=completion_for(request))
    if state is JobState.FAILED:
        return replace(job, error_code="UNAVAILABLE", error_message="every deployment failed")
    return job


def sender(sleeps: Sleeps | None = None, **options: object) -> WebhookSender:
    settings: dict[str, object] = {
        "clock": FakeClock(),
        "sleep": sleeps or Sleeps(),
        "rng": random.Random(7),
        "timeout_seconds": 2.0,
    }
    settings.update(options)
    return WebhookSender(SECRET, **settings)  # type: ignore[arg-type]


def test_signature_verifies_with_the_same_secret_body_and_time() -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature(SECRET, header, BODY, now=1_700_000_100)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_other", BODY, 1_700_000_000),
        (SECRET, BODY + b" ", 1_700_000_000),
        (SECRET, BODY, 1_700_000_301),
        (SECRET, BODY, 1_699_999_699),
    ],
    ids=["wrong secret", "altered body", "too old", "from the future"],
)
def test_signature_is_rejected(secret: str, body: bytes, now: float) -> None:
    header = sign(SECRET, BODY, 1_700_000_000)
    assert not verify_signature(secret, header, body, now=now)


@pytest.mark.parametrize("header", ["", "v1=abc", "t=notanumber,v1=abc", "t=1700000000"])
def test_malformed_signature_header_is_rejected(header: str) -> None:
    assert not verify_signature(SECRET, header, BODY, now=1_700_000_000)


def test_any_of_several_v1_signatures_may_match() -> None:
    """During a secret rotation a sender may sign with both secrets."""
    good = sign(SECRET, BODY, 1_700_000_000).split(",")[1]
    header = f"t=1700000000,v1={'0' * 64},{good}"
    assert verify_signature(SECRET, header, BODY, now=1_700_000_000)


def test_payload_carries_the_result_the_error_or_only_the_state() -> None:
    succeeded = job_payload(finished_job(""))
    assert succeeded["result"]["choices"][0]["message"]["content"] == "echo: hi"
    assert job_payload(finished_job("", JobState.FAILED)) == {
        "job_id": "job-1",
        "state": "failed",
        "error": {"code": "UNAVAILABLE", "message": "every deployment failed"},
    }
    assert job_payload(finished_job("", JobState.CANCELLED)) == {
        "job_id": "job-1",
        "state": "cancelled",
    }


async def test_receiver_gets_a_signed_payload_it_can_verify(receiver: Receiver) -> None:
    hooks = sender()
    job = finished_job(receiver.url)

    assert await hooks.deliver(job)
    await hooks.aclose()

    [(headers, body)] = receiver.received
    assert verify_signature(SECRET, headers[SIGNATURE_HEADER.lower()], body, now=START)
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == job_payload(job)


async def test_server_errors_are_retried_with_growing_backoff(receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 429]
    sleeps = Sleeps()
    hooks = sender(sleeps, max_attempts=4, backoff_seconds=1.0)

    assert await hooks.deliver(finished_job(receiver.url))
    await hooks.aclose()

    assert len(receiver.received) == 4
    assert len(sleeps.delays) == 3
    # Exponential with jitter in [0.5, 1.5): attempt n waits 2**(n-1) times that.
    for n, delay in enumerate(sleeps.delays):
        assert 0.5 * 2**n <= delay < 1.5 * 2**n


async def test_a_client_error_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [400]
    sleeps = Sleeps()
    hooks = sender(sleeps)

    assert not await hooks.deliver(finished_job(receiver.url))
    await hooks.aclose()

    assert len(receiver.received) == 1
    assert sleeps.delays == []


async def test_delivery_gives_up_after_max_attempts(receiver: Receiver) -> None:
    receiver.statuses = [503] * 10
    hooks = sender(max_attempts=3)

    assert not await hooks.deliver(finished_job(receiver.url))
    await hooks.aclose()

    assert len(receiver.received) == 3


async def test_a_receiver_too_slow_to_answer_is_retried(receiver: Receiver) -> None:
    receiver.hang_first = 1
    hooks = sender(timeout_seconds=0.05)

    assert await hooks.deliver(finished_job(receiver.url))
    await hooks.aclose()

    assert len(receiver.received) == 2


async def test_failures_are_logged_without_the_secret_or_the_url_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    hooks = sender(max_attempts=2)

    with caplog.at_level(logging.INFO, logger="svckit.webhooks"):
        ok = await hooks.deliver(finished_job(f"http://127.0.0.1:{port}/hook?token=tok-secret"))
    await hooks.aclose()

    assert not ok
    assert "ConnectError" in caplog.text
    assert "gave up" in caplog.text
    assert SECRET not in caplog.text
    assert "tok-secret" not in caplog.text


async def test_send_delivers_in_the_background(receiver: Receiver) -> None:
    hooks = sender()
    hooks.send(finished_job(receiver.url))
    hooks.send(finished_job(""))  # no URL: nothing to do

    await hooks.drain()
    await hooks.aclose()

    assert len(receiver.received) == 1


async def test_a_rotated_secret_applies_to_the_next_delivery(receiver: Receiver) -> None:
    secrets = ["whsec_old_secret", "whsec_new_secret"]
    hooks = WebhookSender(lambda: secrets[-1], clock=FakeClock())
    await hooks.deliver(finished_job(receiver.url))
    secrets.append("whsec_newest")
    await hooks.deliver(finished_job(receiver.url))
    await hooks.aclose()

    (first, body1), (second, body2) = receiver.received
    assert verify_signature("whsec_new_secret", first[SIGNATURE_HEADER.lower()], body1, now=START)
    assert verify_signature("whsec_newest", second[SIGNATURE_HEADER.lower()], body2, now=START)


async def test_closing_the_sender_cancels_deliveries_in_flight(receiver: Receiver) -> None:
    receiver.hang_first = 1
    hooks = sender(timeout_seconds=5.0)
    hooks.send(finished_job(receiver.url))
    await receiver.arrived.wait()

    await hooks.aclose()

    assert len(receiver.received) == 1


async def test_worker_and_cancel_send_webhooks_for_finished_jobs(
    receiver: Receiver, sqlite_url: str
) -> None:
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    store = JobStore(engine, clock=FakeClock())
    queue = InProcessJobQueue()
    hooks = sender()
    service = JobService(store, queue, webhook=hooks)
    worker = JobWorker(
        store, queue, _echo, consumer_name="w", webhook=hooks, clock=FakeClock(), block_ms=0
    )
    done = await service.submit(chat_request("one"), webhook_url=receiver.url)
    cancelled = await service.submit(chat_request("two"), webhook_url=receiver.url)
    await service.cancel(cancelled.id)

    assert await worker.run_once() == [Outcome.SUCCEEDED, Outcome.SKIPPED]
    await hooks.drain()
    await hooks.aclose()
    await engine.dispose()

    payloads = {p["job_id"]: p for p in (json.loads(body) for _, body in receiver.received)}
    assert payloads[done.id]["state"] == "succeeded"
    assert payloads[done.id]["result"]["choices"][0]["message"]["content"] == "echo: one"
    assert payloads[cancelled.id] == {"job_id": cancelled.id, "state": "cancelled"}


async def _echo(request: ChatRequest) -> Completion:
    return completion_for(request)
