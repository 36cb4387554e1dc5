"""`SignedWebhooks.drain`, against a real HTTP receiver on a loopback port: it waits for the
deliveries in flight and their retries, and no longer than it is told."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from svckit.webhooks import SignedWebhooks
from tests.router.upstreams.serving import serve_upstream

BOUND = 10.0
"""Seconds a test waits for what should happen at once: a bound on a hang, not a timing."""


@dataclass
class Receiver:
    """Answers the queued statuses in turn (then 200); holds every answer while `held`."""

    statuses: list[int] = field(default_factory=list)
    received: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    held: bool = False

    async def handle(self, request: Request) -> Response:
        await request.body()
        self.received += 1
        self.arrived.set()
        if self.held:
            await self.released.wait()
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def url(receiver: Receiver) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    async with serve_upstream(app) as base:
        yield base.removesuffix("/v1") + "/hook"
        receiver.released.set()


async def no_sleep(seconds: float) -> None:
    return None


async def test_drain_waits_for_a_delivery_and_its_retries(url: str, receiver: Receiver) -> None:
    hooks = SignedWebhooks("s3cret", sleep=no_sleep, max_attempts=3)
    receiver.statuses = [503, 500]
    hooks.post_later(url, {"id": "1"}, "event 1")
    assert await asyncio.wait_for(hooks.drain(BOUND), 2 * BOUND) == 0
    assert receiver.received == 3
    await hooks.aclose()


async def test_drain_gives_up_at_its_bound_and_says_how_many_are_left(
    url: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    hooks = SignedWebhooks("s3cret", sleep=no_sleep)
    receiver.held = True
    hooks.post_later(url, {"id": "1"}, "event 1")
    await asyncio.wait_for(receiver.arrived.wait(), BOUND)
    with caplog.at_level(logging.WARNING, logger="svckit.webhooks"):
        assert await asyncio.wait_for(hooks.drain(0.05), BOUND) == 1
    assert "1 webhook deliveries still pending" in caplog.text
    await asyncio.wait_for(hooks.aclose(), BOUND)  # cancels the one held
    assert await hooks.drain(0) == 0


async def test_drain_without_deliveries_returns_at_once() -> None:
    hooks = SignedWebhooks("s3cret")
    assert await hooks.drain(0) == 0
    await hooks.aclose()
