from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.store import BudgetStore, load_for_scopes
from svckit.errors import NotFound

from .conftest import FakeClock, budget


@pytest.fixture
def store(engine: AsyncEngine, clock: FakeClock) -> BudgetStore:
    return BudgetStore(engine, clock=clock, refresh_seconds=5)


async def test_a_created_budget_reads_back_equal(store: BudgetStore) -> None:
    made = budget(thresholds=(50, 100), time_zone="Europe/Paris", model="gpt-4o", hard=False)
    await store.create(made)
    assert await store.get("b1") == made
    assert await store.list_budgets() == [made]


async def test_a_budget_without_thresholds_reads_back_without_any(store: BudgetStore) -> None:
    await store.create(budget(thresholds=()))
    assert (await store.get("b1")).thresholds == ()


async def test_listing_by_scope_keeps_that_scopes_budgets(store: BudgetStore) -> None:
    await store.create(budget(id="b1", scope="tenants/acme"))
    await store.create(budget(id="b2", scope="users/u1"))
    assert [b.id for b in await store.list_budgets("users/u1")] == ["b2"]
    assert [b.id for b in await store.list_budgets()] == ["b1", "b2"]


async def test_an_unknown_budget_is_not_found(store: BudgetStore) -> None:
    with pytest.raises(NotFound):
        await store.get("nope")
    with pytest.raises(NotFound):
        await store.delete("nope")


async def test_a_deleted_budget_is_gone(store: BudgetStore) -> None:
    await store.create(budget())
    await store.delete("b1")
    assert await store.list_budgets() == []


async def test_matching_keeps_budgets_of_the_calls_scopes_and_model(store: BudgetStore) -> None:
    await store.create(budget(id="tenant", scope="tenants/acme"))
    await store.create(budget(id="user", scope="users/u1"))
    await store.create(budget(id="mini", scope="users/u1", model="gpt-4o-mini"))
    await store.create(budget(id="other", scope="tenants/other"))
    found = await store.matching({"tenants/acme", "users/u1"}, "gpt-4o")
    assert sorted(b.id for b in found) == ["tenant", "user"]


async def test_another_replicas_budget_applies_once_the_copy_is_refreshed(
    engine: AsyncEngine, store: BudgetStore, clock: FakeClock
) -> None:
    other_replica = BudgetStore(engine, clock=clock)
    assert await store.matching({"tenants/acme"}, "m") == []
    await other_replica.create(budget())
    clock.advance(4.9)
    assert await store.matching({"tenants/acme"}, "m") == []
    clock.advance(0.2)
    assert [b.id for b in await store.matching({"tenants/acme"}, "m")] == ["b1"]


async def test_this_replicas_own_changes_apply_at_once(store: BudgetStore) -> None:
    assert await store.matching({"tenants/acme"}, "m") == []
    await store.create(budget())
    assert len(await store.matching({"tenants/acme"}, "m")) == 1
    await store.delete("b1")
    assert await store.matching({"tenants/acme"}, "m") == []


async def test_load_for_scopes_reads_in_the_callers_transaction(
    engine: AsyncEngine, store: BudgetStore
) -> None:
    await store.create(budget(id="b1"))
    await store.create(replace(budget(id="b2"), scope="keys/k1"))
    async with engine.connect() as conn:
        assert await load_for_scopes(conn, set()) == []
        found = await load_for_scopes(conn, {"keys/k1", "users/x"})
    assert [b.id for b in found] == ["b2"]
