"""Anthropic's cache writes from the wire to the cost ledger: the router answers them apart from
the input, sends them to the cost service as cache_write_tokens, and the ledger charges them at
the cache-write price, not the plain input price; the OpenAI usage still counts them as prompt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc
from switchboard.router.v1 import router_service_pb2 as pb

from gateway.openai.responses import usage as openai_usage
from services.cost.app import build as build_cost
from services.cost.money import per_million
from services.cost.settings import CostSettings
from svckit.server import create_server
from tests.ports import free_port

from .conftest import StartRouter, Upstream, catalogue, openai_deployment
from .service_calls import ask

INPUT, OUTPUT, CACHE_READ, CACHE_WRITE = 3_000_000_000, 15_000_000_000, 300_000_000, 3_750_000_000
"""Claude Sonnet's prices in nanodollars per million tokens: cache writes cost 1.25x input."""


@pytest.fixture
def router_mode(tmp_path: Path) -> dict[str, Any]:
    """Embedded only: the router sends its usage straight to the cost service (no Redis)."""
    return {"sqlite_path": tmp_path / "router.sqlite3"}


@pytest.fixture
async def cost_address(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    app = build_cost(CostSettings(sqlite_path=tmp_path / "cost.sqlite3"), environ={}).app
    server = create_server(app, address=f"127.0.0.1:{port}")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(grace=1.0)


async def answer_usage(stub: Any, stream: bool) -> pb.Usage:
    request = ask("claude", "Capital of France?")
    if not stream:
        answer = await stub.Complete(request)
        return answer.usage  # type: ignore[no-any-return]
    chunks = [c async for c in stub.StreamComplete(pb.StreamCompleteRequest(request=request))]
    return next(c.usage for c in chunks if c.HasField("usage"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_cache_writes_are_charged_at_the_cache_write_price(
    start_router: StartRouter, anthropic_upstream: Upstream, cost_address: str, stream: bool
) -> None:
    anthropic_upstream.control.cached_tokens = 2_000
    anthropic_upstream.control.cache_creation_tokens = 100_000
    deployment = openai_deployment("claude", anthropic_upstream, provider="anthropic")
    async with grpc.aio.insecure_channel(cost_address) as channel:
        cost = cost_grpc.CostServiceStub(channel)
        price = cost_pb.Price(
            provider="anthropic",
            model="claude-model",
            currency_code="USD",
            input_per_million=INPUT,
            output_per_million=OUTPUT,
            cached_input_per_million=CACHE_READ,
            cache_write_per_million=CACHE_WRITE,
        )
        await cost.SetPrice(cost_pb.SetPriceRequest(price=price))
        async with start_router(catalogue("claude", deployment), cost_addr=cost_address) as r:
            usage = await answer_usage(r.stub, stream)
            await r.service.usage.flush(10)
        spend = await cost.GetSpend(cost_pb.GetSpendRequest())

    # "Capital of France?" is 3 words of input, its answer 6 words.
    assert (usage.input_tokens, usage.cached_tokens, usage.cache_write_tokens) == (
        3 + 2_000,
        2_000,
        100_000,
    )
    assert openai_usage(usage)["prompt_tokens"] == 3 + 2_000 + 100_000
    [row] = spend.rows
    assert (row.requests, row.unpriced_requests) == (1, 0)
    assert row.cost.nanos == (
        per_million(3, INPUT)
        + per_million(2_000, CACHE_READ)
        + per_million(100_000, CACHE_WRITE)
        + per_million(6, OUTPUT)
    )
