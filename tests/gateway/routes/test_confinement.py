"""The confinement rules on user subjects, on the messages the gateway sends: a tenant's own
users are `users/<own-tenant>:<user>`; the bare and other tenants' forms are refused (a budget
of theirs is NOT_FOUND); the platform is not confined."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb

from gateway.keys.model import ApiKey
from gateway.routes.confinement import (
    BudgetField,
    BudgetRef,
    SubjectField,
    rule_of,
    subject_is_own,
)
from svckit.errors import NotFound, PermissionDenied

ACME = ApiKey("a" * 12, "acme", "alice", "pro", frozenset({"admin"}), "acme", datetime.now(UTC))
BUDGETS = {
    "b-own": BudgetRef("users/acme:bob", "acme"),
    "b-set-by-platform": BudgetRef("tenants/acme", "platform"),
    "b-theirs": BudgetRef("users/globex:bob", "globex"),
    "b-bare": BudgetRef("users/bob", ""),
}


class Data:
    """acme owns key k1; budgets by id as in BUDGETS."""

    async def owns_key(self, tenant: str, key_id: str) -> bool:
        return (tenant, key_id) == ("acme", "k1")

    async def budget(self, budget_id: str) -> BudgetRef | None:
        return BUDGETS.get(budget_id)


@pytest.mark.parametrize(
    ("subject", "own"),
    [
        ("users/acme:bob", True),
        ("users/acme:bob:ops", True),  # the first ':' ends the tenant; the rest is the user
        ("users/acme:", False),
        ("users/:bob", False),
        ("users/bob", False),
        ("users/acme", False),
        ("users/globex:bob", False),
        ("users/acmex:bob", False),
        ("users/globex:acme:bob", False),
        ("tenants/acme", True),
        ("tenants/globex", False),
        ("keys/k1", True),
        ("keys/k2", False),
        ("teams/acme:bob", False),
        ("users/", False),
        ("", False),
    ],
)
async def test_a_subject_is_the_tenants_own_only_in_its_tenants_namespace(
    subject: str, own: bool
) -> None:
    assert await subject_is_own(subject, "acme", Data()) is own


async def test_a_bare_user_is_refused_with_the_form_to_use_and_another_tenants_as_such() -> None:
    rule = SubjectField("scope", default_own=True)
    with pytest.raises(PermissionDenied) as bare:
        await rule.check(cost_pb.ListBudgetsRequest(scope="users/bob"), ACME, Data())
    with pytest.raises(PermissionDenied) as other:
        await rule.check(cost_pb.ListBudgetsRequest(scope="users/globex:bob"), ACME, Data())
    own = await rule.check(cost_pb.ListBudgetsRequest(scope="users/acme:bob"), ACME, Data())

    assert bare.value.reason == "USER_WITHOUT_TENANT"
    assert '"users/acme:<user>"' in bare.value.message
    assert other.value.reason == "OTHER_TENANT"
    assert own == {}


@pytest.mark.parametrize("budget_id", ["b-theirs", "b-bare", "b-missing"])
async def test_a_budget_of_another_tenants_user_or_of_a_bare_user_is_not_found(
    budget_id: str,
) -> None:
    with pytest.raises(NotFound):
        await BudgetField("budget_id").check(
            cost_pb.GetBudgetRequest(budget_id=budget_id), ACME, Data()
        )
    assert (
        await BudgetField("budget_id").check(
            cost_pb.GetBudgetRequest(budget_id="b-own"), ACME, Data()
        )
        == {}
    )


async def test_creating_a_budget_and_reading_usage_follow_the_same_rule() -> None:
    create = rule_of("switchboard.cost.v1.CostService.CreateBudget")
    usage = rule_of("switchboard.ratelimit.v1.RateLimitService.GetUsage")
    theirs = cost_pb.CreateBudgetRequest(budget=cost_pb.Budget(scope="users/globex:bob"))
    mine = cost_pb.CreateBudgetRequest(budget=cost_pb.Budget(scope="users/acme:bob"))

    with pytest.raises(PermissionDenied):
        await create.check(theirs, ACME, Data())
    with pytest.raises(PermissionDenied):
        await usage.check(rl_pb.GetUsageRequest(subject="users/globex:bob"), ACME, Data())
    assert await create.check(mine, ACME, Data()) == {}
    assert await usage.check(rl_pb.GetUsageRequest(subject="users/acme:bob"), ACME, Data()) == {}


async def test_a_tenant_reads_but_does_not_delete_a_budget_the_platform_set() -> None:
    delete = rule_of("switchboard.cost.v1.CostService.DeleteBudget")
    get = rule_of("switchboard.cost.v1.CostService.GetBudget")
    platforms = "b-set-by-platform"

    with pytest.raises(PermissionDenied) as refused:
        await delete.check(cost_pb.DeleteBudgetRequest(budget_id=platforms), ACME, Data())
    with pytest.raises(NotFound):  # another tenant's stays invisible, owned or not
        await delete.check(cost_pb.DeleteBudgetRequest(budget_id="b-theirs"), ACME, Data())

    assert refused.value.reason == "SET_BY_PLATFORM"
    assert await get.check(cost_pb.GetBudgetRequest(budget_id=platforms), ACME, Data()) == {}
    own = cost_pb.DeleteBudgetRequest(budget_id="b-own")
    assert await delete.check(own, ACME, Data()) == {}
