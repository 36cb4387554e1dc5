"""Users of the same name in two tenants, through the admin API over real HTTP against the real
services: a tenant names its users `users/<own-tenant>:<user>` and no other form, cannot see or
touch another tenant's user budgets, and a user budget is charged by its own tenant's user only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.keys.model import NewKey
from tests.gateway.pipeline.stack import Stack, running_stack
from tests.gateway.test_admin_routes import chat, until_spend


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        for tenant in ("acme", "globex"):
            spec = NewKey(tenant, "bob", "pro", frozenset({"inference"}), f"{tenant} bob")
            created = await running.gateway.keys.create_key(spec)
            running.keys[f"{tenant}-bob"] = created.plaintext
        yield running


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{stack.origin}/admin") as client:
        yield client


def budget(scope: str, nanos: int = 100_000) -> dict[str, Any]:
    return {
        "scope": scope,
        "period": "BUDGET_PERIOD_MONTHLY",
        "limit": {"currencyCode": "USD", "nanos": str(nanos)},
        "hard": True,
    }


def spent(answer: httpx.Response) -> int:
    assert answer.status_code == 200, answer.text
    return int(answer.json()["status"].get("spent", {}).get("nanos", 0))


async def test_a_tenant_names_its_users_with_its_tenant_and_no_other_tenants(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    acme, platform = stack.auth("acme-admin"), stack.auth("platform")
    own = await http.post("/v1/cost/budgets", json=budget("users/acme:bob"), headers=acme)
    no_key_yet = await http.post("/v1/cost/budgets", json=budget("users/acme:zoe"), headers=acme)
    bare = await http.post("/v1/cost/budgets", json=budget("users/bob"), headers=acme)
    other = await http.post("/v1/cost/budgets", json=budget("users/globex:bob"), headers=acme)
    theirs = await http.post("/v1/cost/budgets", json=budget("users/globex:bob"), headers=platform)
    assert theirs.status_code == 200, theirs.text
    their_id = theirs.json()["budget"]["budgetId"]

    read_theirs = await http.get(f"/v1/cost/budgets/{their_id}", headers=acme)
    alerts_theirs = await http.get("/v1/cost/alerts", params={"budgetId": their_id}, headers=acme)
    delete_theirs = await http.delete(f"/v1/cost/budgets/{their_id}", headers=acme)
    list_theirs = await http.get(
        "/v1/cost/budgets", params={"scope": "users/globex:bob"}, headers=acme
    )
    list_own = await http.get("/v1/cost/budgets", params={"scope": "users/acme:bob"}, headers=acme)
    globex_reads = await http.get(f"/v1/cost/budgets/{their_id}", headers=stack.auth("globex"))

    assert own.status_code == 200, own.text
    assert own.json()["budget"]["scope"] == "users/acme:bob"
    assert no_key_yet.status_code == 200, no_key_yet.text
    assert bare.status_code == 403
    assert 'name a user with its tenant: "users/acme:<user>"' in bare.json()["error"]["message"]
    assert other.status_code == 403
    assert other.json()["error"]["status"] == "PERMISSION_DENIED"
    for hidden in (read_theirs, alerts_theirs, delete_theirs):
        assert hidden.status_code == 404, hidden.text
    assert list_theirs.status_code == 403
    assert [s["budget"]["scope"] for s in list_own.json()["statuses"]] == ["users/acme:bob"]
    assert globex_reads.status_code == 200  # still there: acme's delete did not reach it


async def test_a_tenant_reads_the_rate_limit_usage_of_its_own_users_only(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    acme = stack.auth("acme-admin")
    tier = {"tier": "pro"}
    assert (await chat(stack, "acme-bob", "count me")).status_code == 200
    own = await http.get("/v1/users/acme:bob/usage", params=tier, headers=acme)
    bare = await http.get("/v1/users/bob/usage", params=tier, headers=acme)
    other = await http.get("/v1/users/globex:bob/usage", params=tier, headers=acme)
    platform = await http.get(
        "/v1/users/globex:bob/usage", params=tier, headers=stack.auth("platform")
    )

    assert own.status_code == 200, own.text
    left = {limit["kind"]: limit["remaining"] for limit in own.json()["limits"]}
    assert left["LIMIT_KIND_REQUESTS_PER_MINUTE"] == "59"
    assert (bare.status_code, other.status_code) == (403, 403)
    assert platform.status_code == 200


async def test_a_user_budget_is_charged_by_its_own_tenants_user_only(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    # One call's worst case fits in the limit; one call's spend plus the next worst case does
    # not (as in test_admin_routes' hard budget).
    acme = stack.auth("acme-admin")
    created = await http.post("/v1/cost/budgets", json=budget("users/acme:bob"), headers=acme)
    assert created.status_code == 200, created.text
    budget_id = created.json()["budget"]["budgetId"]

    for i in range(2):
        call = await chat(stack, "globex-bob", f"globex call {i}", max_tokens=100)
        assert call.status_code == 200, call.text
    await until_spend(http, stack, "globex", 2)
    after_globex = spent(await http.get(f"/v1/cost/budgets/{budget_id}", headers=acme))

    first = await chat(stack, "acme-bob", "acme call", max_tokens=100)
    assert first.status_code == 200, first.text
    await until_spend(http, stack, "acme-admin", 1)
    after_acme = spent(await http.get(f"/v1/cost/budgets/{budget_id}", headers=acme))
    blocked = await chat(stack, "acme-bob", "one too many", max_tokens=100)
    globex_still = await chat(stack, "globex-bob", "not my budget", max_tokens=100)

    assert after_globex == 0
    assert after_acme > 0
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "insufficient_quota"
    assert "users/acme:bob" in blocked.json()["error"]["message"]
    assert globex_still.status_code == 200, globex_still.text
