"""The cost service's shutdown, against a real server on port 0: alert webhooks still being
sent are delivered, and open WatchAlerts streams end at once (OK) rather than after the grace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from switchboard.cost.v1 import cost_service_pb2 as pb
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.cost.app import build
from services.cost.budgets.alerts import AlertFeed, AlertSubscription
from services.cost.settings import CostSettings
from svckit.server import create_server
from tests.cost.conftest import StartCost
from tests.cost.cost_calls import NOW, event, house_price
from tests.router.upstreams.serving import serve_upstream

SECRET = "whsec_shutdown_0123456789"
BOUND = 10.0
"""Seconds a test waits for what should happen at once: a bound on a hang, not a timing."""


@dataclass
class Receiver:
    """Answers 503 to the first attempt (a brief outage), 200 to the others."""

    bodies: list[bytes] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        self.first.set()
        return Response(status_code=503 if len(self.bodies) == 1 else 200)


@pytest.fixture
async def hook() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    async with serve_upstream(app) as base:
        yield receiver, base.removesuffix("/v1") + "/hook"


async def raise_an_alert(stub: pb_grpc.CostServiceStub) -> None:
    day = NOW.replace(hour=0, minute=0, second=0)
    await stub.SetPrice(pb.SetPriceRequest(price=house_price(10**9, 10**9, day)))
    limit = pb.Money(currency_code="USD", nanos=1_000_000)
    budget = pb.Budget(
        scope="users/u1", period=pb.BUDGET_PERIOD_DAILY, limit=limit, hard=False, thresholds=[50]
    )
    await stub.CreateBudget(pb.CreateBudgetRequest(budget=budget))
    await stub.RecordUsage(pb.RecordUsageRequest(events=[event("e1", when=NOW)]))


async def test_an_alert_webhook_being_retried_at_shutdown_is_delivered(
    start_cost: StartCost, hook: tuple[Receiver, str]
) -> None:
    receiver, url = hook
    async with start_cost(
        alert_webhook_url=url, environ={"COST_ALERT_WEBHOOK_SECRET": SECRET}
    ) as cost:
        await raise_an_alert(cost.stub)
        await asyncio.wait_for(receiver.first.wait(), BOUND)
    # The server has stopped (leaving the block) while the first attempt's retry was pending.
    assert len(receiver.bodies) == 2
    assert receiver.bodies[0] == receiver.bodies[1]


async def test_an_open_watch_ends_ok_as_soon_as_shutdown_begins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = build(CostSettings(sqlite_path=tmp_path / "cost.sqlite3"), environ={})
    subscribed = _noting_subscriptions(service.parts.alerts, monkeypatch)
    server = create_server(service.app)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    # A grace far beyond the bound: without the drain hook the stream would last it out.
    stopping: asyncio.Task[None] | None = None
    try:
        call = pb_grpc.CostServiceStub(channel).WatchAlerts(pb.WatchAlertsRequest())
        await asyncio.wait_for(subscribed.wait(), BOUND)
        stopping = asyncio.create_task(server.stop(grace=10 * BOUND))
        received = await asyncio.wait_for(_read_to_the_end(call), BOUND)
        assert received == 0
        assert await call.code() == grpc.StatusCode.OK
        await asyncio.wait_for(stopping, BOUND)
    finally:
        await channel.close()
        await server.server.stop(0)  # ends a stop still in its grace when the test failed
        if stopping is not None:
            await stopping


async def test_a_watch_begun_after_shutdown_began_ends_at_once(tmp_path: Path) -> None:
    service = build(CostSettings(sqlite_path=tmp_path / "cost.sqlite3"), environ={})
    for drain in service.app.on_drain:
        await drain()
    subscription = service.parts.alerts.subscribe()
    assert [alert async for alert in subscription] == []
    assert service.parts.alerts.subscribers == 0


def _noting_subscriptions(feed: AlertFeed, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """An event set once the feed has a subscription (the watch has begun)."""
    subscribed = asyncio.Event()
    original = feed.subscribe

    def subscribe(scope: str = "") -> AlertSubscription:
        subscription = original(scope)
        subscribed.set()
        return subscription

    monkeypatch.setattr(feed, "subscribe", subscribe)
    return subscribed


async def _read_to_the_end(call: AsyncIterator[pb.WatchAlertsResponse]) -> int:
    """How many alerts the stream gave before it ended; raises if it ended with an error."""
    return len([response async for response in call])
