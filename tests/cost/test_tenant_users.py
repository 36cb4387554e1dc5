"""Users of the same name in two tenants, over gRPC in both modes: a call is charged to its
tenant's user (`users/<tenant>:<user>`), so a user budget of one tenant is neither charged nor
checked by another tenant's user of that name; a call without a tenant charges `users/<user>`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from switchboard.cost.v1 import cost_service_pb2 as pb

from .conftest import RunningCost, StartCost
from .cost_calls import NOW, event, house_price

pytestmark = pytest.mark.slow

CALL_COST = 6_000_000
"""1,000 input and 500 output tokens at 2 and 8 USD per million."""


async def create(c: RunningCost, scope: str, *, hard: bool = True) -> str:
    budget = pb.Budget(
        scope=scope,
        period=pb.BUDGET_PERIOD_MONTHLY,
        limit=pb.Money(currency_code="USD", nanos=10 * CALL_COST // 6),  # one call, not two
        hard=hard,
    )
    created = await c.stub.CreateBudget(pb.CreateBudgetRequest(budget=budget))
    return str(created.budget.budget_id)


async def spent(c: RunningCost, budget_id: str) -> int:
    status = (await c.stub.GetBudget(pb.GetBudgetRequest(budget_id=budget_id))).status
    return int(status.spent.nanos)


def check(request_id: str, tenant: str, user: str) -> pb.CheckBudgetRequest:
    return pb.CheckBudgetRequest(
        request_id=request_id,
        tenant=tenant,
        user=user,
        model="house-model",
        provider="house",
        upstream_model="house-1",
        input_tokens=1000,
        max_output_tokens=500,
    )


async def test_a_user_budget_of_one_tenant_is_not_charged_by_another_tenants_user(
    start_cost: StartCost,
) -> None:
    async with start_cost() as c:
        price = house_price(2_000_000_000, 8_000_000_000, NOW - timedelta(days=1))
        await c.stub.SetPrice(pb.SetPriceRequest(price=price))
        acme = await create(c, "users/acme:bob")
        globex = await create(c, "users/globex:bob", hard=False)
        bare = await create(c, "users/bob", hard=False)
        calls = [
            event("g1", tenant="globex", subject="keys/g", user="bob"),
            event("g2", tenant="globex", subject="keys/g", user="bob"),
            event("a1", tenant="acme", subject="keys/a", user="bob"),
            event("internal", tenant="", subject="", user="bob"),
        ]
        await c.stub.RecordUsage(pb.RecordUsageRequest(events=calls))
        spends = [await spent(c, budget_id) for budget_id in (acme, globex, bare)]
        acme_check = await c.stub.CheckBudget(check("a2", "acme", "bob"))
        globex_check = await c.stub.CheckBudget(check("g3", "globex", "bob"))

    assert spends == [CALL_COST, 2 * CALL_COST, CALL_COST]
    assert not acme_check.allowed  # acme's bob spent his budget
    assert [s.budget.scope for s in acme_check.exceeded] == ["users/acme:bob"]
    assert globex_check.allowed  # acme's budget is not globex's bob's
    assert globex_check.reserved.nanos > 0  # reserved on globex's own (soft) bob budget
