"""Admission against the real rate-limit and cost services: whichever check refuses, or fails,
the other check's reservation is given back; a router failure gives both back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as rl_grpc
from switchboard.router.v1 import router_service_pb2_grpc as router_grpc

from gateway.keys.model import ApiKey
from gateway.openai.errors import OpenAIError
from gateway.pipeline.admission import Admission, Candidate
from gateway.pipeline.catalogue import Catalogue, Served
from gateway.pipeline.estimate import TokenEstimate
from tests.gateway.pipeline.stack import FakeClock, Stack, running_stack
from tests.ports import free_port

TOKENS = TokenEstimate(input_tokens=10, max_output_tokens=100, output_tokens=100)
MOCK = Served("mock", "mock-1")


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


@pytest.fixture
async def channels(stack: Stack) -> AsyncIterator[tuple[grpc.aio.Channel, grpc.aio.Channel]]:
    settings = stack.gateway.settings
    async with (
        grpc.aio.insecure_channel(settings.ratelimit_addr) as ratelimit,
        grpc.aio.insecure_channel(settings.cost_addr) as cost,
    ):
        yield ratelimit, cost


async def key_of(stack: Stack, name: str) -> ApiKey:
    return await stack.gateway.keys.get_key(stack.key_ids[name])


async def requests_left(ratelimit: rl_grpc.RateLimitServiceStub, key: ApiKey) -> int:
    usage = await ratelimit.GetUsage(rl_pb.GetUsageRequest(subject=f"keys/{key.id}", tier=key.tier))
    return min(
        int(s.remaining) for s in usage.limits if s.kind == rl_pb.LIMIT_KIND_REQUESTS_PER_MINUTE
    )


async def budget(cost: cost_grpc.CostServiceStub, scope: str, nanos: int) -> str:
    created = await cost.CreateBudget(
        cost_pb.CreateBudgetRequest(
            budget=cost_pb.Budget(
                scope=scope,
                period=cost_pb.BUDGET_PERIOD_MONTHLY,
                limit=cost_pb.Money(currency_code="USD", nanos=nanos),
                hard=True,
            )
        )
    )
    return str(created.budget.budget_id)


async def reserved(cost: cost_grpc.CostServiceStub, budget_id: str) -> int:
    answer = await cost.GetBudget(cost_pb.GetBudgetRequest(budget_id=budget_id))
    return int(answer.status.reserved.nanos)


async def test_a_budget_refusal_gives_the_quota_reservation_back(
    stack: Stack, channels: tuple[grpc.aio.Channel, grpc.aio.Channel]
) -> None:
    ratelimit, cost = (
        rl_grpc.RateLimitServiceStub(channels[0]),
        cost_grpc.CostServiceStub(channels[1]),
    )
    await budget(cost, "tenants/globex", 1)
    key = await key_of(stack, "globex")
    admission = Admission(ratelimit, cost, clock=FakeClock())

    with pytest.raises(OpenAIError) as refused:
        await admission.admit(Candidate("req-1", key, "mock-gpt", TOKENS, MOCK))

    assert refused.value.code == "insufficient_quota"
    assert refused.value.headers["x-ratelimit-remaining-requests"] == "59"
    assert await requests_left(ratelimit, key) == 60


async def test_a_quota_refusal_gives_the_budget_reservation_back(
    stack: Stack, channels: tuple[grpc.aio.Channel, grpc.aio.Channel]
) -> None:
    ratelimit, cost = (
        rl_grpc.RateLimitServiceStub(channels[0]),
        cost_grpc.CostServiceStub(channels[1]),
    )
    budget_id = await budget(cost, "tenants/acme", 10**9)
    key = await key_of(stack, "acme-tiny")
    admission = Admission(ratelimit, cost, clock=FakeClock())
    for n in range(2):  # the tier's two requests a minute
        await admission.admit(Candidate(f"req-{n}", key, "mock-gpt", TOKENS, MOCK))
    two_calls = await reserved(cost, budget_id)
    assert two_calls > 0

    with pytest.raises(OpenAIError) as refused:
        await admission.admit(Candidate("req-3", key, "mock-gpt", TOKENS, MOCK))

    assert refused.value.code == "rate_limit_exceeded"
    assert refused.value.headers["retry-after"] == "45"
    assert await reserved(cost, budget_id) == two_calls


async def test_a_call_larger_than_a_tokens_limit_is_told_not_to_retry(
    stack: Stack, channels: tuple[grpc.aio.Channel, grpc.aio.Channel]
) -> None:
    ratelimit, cost = (
        rl_grpc.RateLimitServiceStub(channels[0]),
        cost_grpc.CostServiceStub(channels[1]),
    )
    key = await key_of(stack, "acme")  # the pro tier: 200,000 tokens a minute
    admission = Admission(ratelimit, cost, clock=FakeClock())
    huge = TokenEstimate(input_tokens=10, max_output_tokens=250_000, output_tokens=250_000)

    with pytest.raises(OpenAIError) as refused:
        await admission.admit(Candidate("req-1", key, "mock-gpt", huge, MOCK))

    assert refused.value.code == "rate_limit_exceeded"
    assert "requested 250010" in refused.value.message
    assert "retry-after" not in refused.value.headers
    assert refused.value.headers["x-should-retry"] == "false"
    assert await requests_left(ratelimit, key) == 60


async def test_a_check_that_fails_is_503_and_the_other_is_given_back(
    stack: Stack, channels: tuple[grpc.aio.Channel, grpc.aio.Channel]
) -> None:
    ratelimit = rl_grpc.RateLimitServiceStub(channels[0])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as down:
        admission = Admission(ratelimit, cost_grpc.CostServiceStub(down), timeout_seconds=1.0)
        key = await key_of(stack, "acme")
        with pytest.raises(OpenAIError) as failed:
            await admission.admit(Candidate("req-1", key, "mock-gpt", TOKENS))

    assert failed.value.status == 503
    assert await requests_left(ratelimit, key) == 60


async def test_the_catalogue_leaves_the_hint_empty_while_the_router_is_down() -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as down:
        catalogue = Catalogue(router_grpc.RouterServiceStub(down), timeout_seconds=0.5)
        assert await catalogue.first_deployment("mock-gpt") == Served()
