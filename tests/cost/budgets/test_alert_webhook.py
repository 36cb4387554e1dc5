"""The alert webhook against a real HTTP receiver on a loopback port."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.cost.budgets.alert_webhook import AlertWebhook, alert_payload
from services.cost.budgets.model import Alert
from services.cost.money import Money
from svckit.signatures import SIGNATURE_HEADER, verify
from tests.router.upstreams.serving import serve_upstream

from .conftest import NOW, FakeClock

SECRET = "whsec_alerts_0123456789"


@dataclass
class Receiver:
    """Answers the queued statuses in turn (then 200) and keeps what it received."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[bytes, str]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        self.received.append((await request.body(), request.headers.get(SIGNATURE_HEADER, "")))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def url(receiver: Receiver) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    async with serve_upstream(app) as base:
        yield base.removesuffix("/v1") + "/hook?token=s3cr3t-in-url"


@pytest.fixture
async def webhook(url: str, clock: FakeClock) -> AsyncIterator[AlertWebhook]:
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)

    hook = AlertWebhook(url, SECRET, clock=clock, sleep=sleep, rng=random.Random(1), max_attempts=3)
    yield hook
    await hook.aclose()


def alert(id: str = "a1") -> Alert:
    return Alert(
        id=id,
        budget_id="b1",
        scope="tenants/acme",
        threshold=80,
        period_start=NOW.replace(day=1, hour=0),
        spent=Money("USD", 80),
        limit=Money("USD", 100),
        raised_at=NOW,
    )


async def test_each_alert_is_posted_as_signed_json(
    webhook: AlertWebhook, receiver: Receiver, clock: FakeClock
) -> None:
    webhook.send([alert("a1"), alert("a2")])
    await webhook.drain()
    bodies = sorted(receiver.received)
    assert [json.loads(body)["alert_id"] for body, _ in bodies] == ["a1", "a2"]
    body, header = bodies[0]
    assert json.loads(body) == {
        "type": "budget.threshold_crossed",
        "alert_id": "a1",
        "budget_id": "b1",
        "scope": "tenants/acme",
        "threshold": 80,
        "period_start": "2025-03-01T00:00:00+00:00",
        "raised": "2025-03-12T15:00:00+00:00",
        "spent": {"currency_code": "USD", "nanos": 80},
        "limit": {"currency_code": "USD", "nanos": 100},
    }
    assert verify(SECRET, header, body, now=clock())
    assert not verify("another secret", header, body, now=clock())


async def test_a_failing_receiver_is_retried_until_it_accepts(
    webhook: AlertWebhook, receiver: Receiver
) -> None:
    receiver.statuses = [503, 429]
    assert await webhook.deliver(alert())
    assert len(receiver.received) == 3
    assert len({body for body, _ in receiver.received}) == 1


async def test_a_refusing_receiver_is_not_retried(
    webhook: AlertWebhook, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [400]
    with caplog.at_level(logging.INFO):
        assert not await webhook.deliver(alert())
    assert len(receiver.received) == 1
    # Ours only: the service's logging keeps httpx's own lines (which show the URL) quiet.
    ours = " ".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("services.", "svckit."))
    )
    assert "127.0.0.1" in ours
    assert "s3cr3t-in-url" not in ours
    assert SECRET not in ours


async def test_delivery_gives_up_after_the_last_attempt(
    webhook: AlertWebhook, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500, 500, 500]
    assert not await webhook.deliver(alert())
    assert len(receiver.received) == 3


async def test_an_unreachable_receiver_is_retried_then_given_up(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def sleep(seconds: float) -> None:
        return None

    client = httpx.AsyncClient()
    hook = AlertWebhook(
        "http://127.0.0.1:9/hook", lambda: SECRET, client=client, sleep=sleep, max_attempts=2
    )
    with caplog.at_level(logging.INFO):
        assert not await hook.deliver(alert())
    await hook.aclose()
    assert not client.is_closed  # a given client belongs to its owner
    await client.aclose()
    assert "ConnectError" in caplog.text


def test_the_payload_names_the_alert_for_deduplication() -> None:
    assert alert_payload(alert("a9"))["alert_id"] == "a9"
