"""The admin API over real HTTP against the real services: transcoded RPCs need an admin key;
a tenant's admin key is confined to its tenant (spend, budgets, usage, keys) and kept off the
platform-only RPCs; a hard budget, once spent, blocks calls with a clear error; the gateway's
own tenant and key routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.gateway.pipeline.stack import Stack, running_stack

MODEL = "mock-gpt"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{stack.origin}/admin") as client:
        yield client


async def chat(stack: Stack, key: str, text: str, **extra: Any) -> httpx.Response:
    async with httpx.AsyncClient(headers=stack.auth(key)) as client:
        body = {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}
        return await client.post(f"{stack.base_url}/chat/completions", json=body)


async def spend_requests(http: httpx.AsyncClient, stack: Stack, key: str) -> int:
    answer = await http.get("/v1/cost/spend", headers=stack.auth(key))
    assert answer.status_code == 200, answer.text
    return sum(int(row.get("requests", 0)) for row in answer.json()["rows"])


async def until_spend(http: httpx.AsyncClient, stack: Stack, key: str, requests: int) -> None:
    """The router's usage events reach the ledger off the response's path: wait for them."""
    deadline = time.monotonic() + 10
    while await spend_requests(http, stack, key) < requests:
        assert time.monotonic() < deadline, "the usage never reached the ledger"
        await asyncio.sleep(0.02)


async def test_a_transcoded_rpc_answers_an_admin_key(stack: Stack, http: httpx.AsyncClient) -> None:
    tiers = await http.get("/v1/tiers", headers=stack.auth("acme-admin"))
    models = await http.get("/v1/router/models", headers=stack.auth("platform"))

    assert tiers.status_code == 200
    assert {tier["name"] for tier in tiers.json()["tiers"]} == {"pro", "tiny"}
    assert [model["name"] for model in models.json()["models"]] == ["fake-gpt", MODEL]


async def test_the_admin_api_needs_an_admin_key(stack: Stack, http: httpx.AsyncClient) -> None:
    anonymous = await http.get("/v1/tiers")
    inference = await http.get("/v1/tiers", headers=stack.auth("acme"))
    own_routes = await http.get("/v1/keys", headers=stack.auth("acme"))

    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["status"] == "UNAUTHENTICATED"
    assert inference.status_code == 403
    assert inference.json()["error"]["status"] == "PERMISSION_DENIED"
    assert own_routes.status_code == 403


async def test_platform_only_rpcs_are_refused_to_a_tenant_admin(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    acme = stack.auth("acme-admin")
    price = {"provider": "mock", "model": "mock-1", "currencyCode": "USD"}
    set_price = await http.post("/v1/cost/prices", json=price, headers=acme)
    reload = await http.post("/v1/router/catalogue:reload", json={}, headers=acme)
    check = await http.post("/v1/quota:check", json={}, headers=acme)
    platform_reload = await http.post(
        "/v1/router/catalogue:reload", json={}, headers=stack.auth("platform")
    )

    for refused in (set_price, reload, check):
        assert refused.status_code == 403
        assert "platform" in refused.json()["error"]["message"]
    assert platform_reload.status_code == 200
    assert platform_reload.json()["models"] == 2  # mock-gpt and fake-gpt


@pytest.mark.parametrize("scope", ["tenants/globex", "users/globex:gus"])
async def test_a_hard_budget_once_spent_blocks_and_other_tenants_see_none_of_it(
    stack: Stack, http: httpx.AsyncClient, scope: str
) -> None:
    # One call's worst case (100 output tokens at 600 nanodollars, plus input) fits in the
    # limit; the spend of that call (100 words) plus the next worst case does not. A user's
    # budget is charged like a tenant's: the usage event carries the key's user.
    budget = {
        "scope": scope,
        "period": "BUDGET_PERIOD_MONTHLY",
        "limit": {"currencyCode": "USD", "nanos": "100000"},
        "hard": True,
    }
    created = await http.post("/v1/cost/budgets", json=budget, headers=stack.auth("platform"))
    assert created.status_code == 200, created.text
    budget_id = created.json()["budget"]["budgetId"]

    first = await chat(stack, "globex", "first call", max_tokens=100)
    assert first.status_code == 200, first.text
    await until_spend(http, stack, "globex", 1)
    async with openai.AsyncOpenAI(
        base_url=stack.base_url, api_key=stack.keys["globex"], max_retries=0
    ) as client:
        with pytest.raises(openai.RateLimitError) as blocked:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "second"}], max_tokens=100
            )

    assert blocked.value.code == "insufficient_quota"
    assert scope in blocked.value.message
    assert blocked.value.response.headers["x-should-retry"] == "false"

    acme = stack.auth("acme-admin")
    acme_spend = await http.get("/v1/cost/spend", headers=acme)
    acme_budgets = await http.get("/v1/cost/budgets", headers=acme)
    other_spend = await http.get("/v1/cost/spend", params={"tenant": "globex"}, headers=acme)
    other_budgets = await http.get("/v1/cost/budgets", params={"scope": scope}, headers=acme)
    other_budget = await http.get(f"/v1/cost/budgets/{budget_id}", headers=acme)
    globex_budget = await http.get(f"/v1/cost/budgets/{budget_id}", headers=stack.auth("globex"))

    assert acme_spend.json()["rows"] == []
    assert acme_budgets.json()["statuses"] == []
    assert other_spend.status_code == 403
    assert other_budgets.status_code == 403
    assert other_budget.status_code == 404
    assert globex_budget.status_code == 200
    assert int(globex_budget.json()["status"]["spent"]["nanos"]) > 0
    assert await spend_requests(http, stack, "globex") == 1


async def test_usage_is_confined_to_the_tenants_own_subjects(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    assert (await chat(stack, "acme", "count me")).status_code == 200
    acme = stack.auth("acme-admin")
    own_key = await http.get(
        f"/v1/keys%2F{stack.key_ids['acme']}/usage", params={"tier": "pro"}, headers=acme
    )
    own_user = await http.get("/v1/users/acme:alice/usage", params={"tier": "pro"}, headers=acme)
    other_key = await http.get(
        f"/v1/keys/{stack.key_ids['globex']}/usage", params={"tier": "pro"}, headers=acme
    )
    other_tenant = await http.get("/v1/tenants/globex/usage", params={"tier": "pro"}, headers=acme)

    assert own_key.status_code == 200, own_key.text
    used = {limit["kind"]: limit["remaining"] for limit in own_key.json()["limits"]}
    assert used["LIMIT_KIND_REQUESTS_PER_MINUTE"] == "59"
    assert own_user.status_code == 200, own_user.text
    user_left = {limit["kind"]: limit["remaining"] for limit in own_user.json()["limits"]}
    assert user_left["LIMIT_KIND_REQUESTS_PER_MINUTE"] == "59"  # the call counted for the user
    assert other_key.status_code == 403
    assert other_tenant.status_code == 403


async def test_keys_are_created_listed_and_revoked_within_the_tenant(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    acme = stack.auth("acme-admin")
    created = await http.post(
        "/v1/keys", json={"user": "bob", "scopes": ["inference"], "name": "bob's"}, headers=acme
    )
    assert created.status_code == 200, created.text
    new = created.json()
    bigger_tier = await http.post(
        "/v1/keys", json={"user": "bob", "scopes": ["inference"], "tier": "tiny"}, headers=acme
    )
    other_tenant = await http.post(
        "/v1/keys", json={"tenant": "globex", "user": "x", "scopes": ["admin"]}, headers=acme
    )
    listed = await http.get("/v1/keys", headers=acme)
    works = await chat(stack, "acme", "placeholder")  # the stack's own key, still fine
    foreign = await http.post(f"/v1/keys/{stack.key_ids['globex']}:revoke", headers=acme)
    revoked = await http.post(f"/v1/keys/{new['id']}:revoke", headers=acme)
    shown = await http.get(f"/v1/keys/{new['id']}", headers=acme)

    assert new["key"].startswith(f"sb-{new['id']}-")
    assert (new["tenant"], new["tier"], new["scopes"]) == ("acme", "pro", ["inference"])
    assert bigger_tier.status_code == 403
    assert other_tenant.status_code == 403
    assert {key["tenant"] for key in listed.json()} == {"acme"}
    assert "key" not in listed.json()[0]
    assert works.status_code == 200
    assert foreign.status_code == 404
    assert revoked.json()["state"] == "revoked"
    assert shown.json()["revoked_at"] is not None
    async with httpx.AsyncClient() as client:
        refused = await client.get(
            f"{stack.base_url}/models", headers={"authorization": f"Bearer {new['key']}"}
        )
    assert refused.status_code == 401


async def test_tenants_are_managed_by_the_platform_only(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    platform = stack.auth("platform")
    created = await http.post("/v1/tenants", json={"id": "initech"}, headers=platform)
    refused = await http.post("/v1/tenants", json={"id": "evil"}, headers=stack.auth("globex"))
    own_only = await http.get("/v1/tenants", headers=stack.auth("globex"))
    everyone = await http.get("/v1/tenants", headers=platform)
    disabled = await http.post("/v1/tenants/globex:disable", headers=platform)
    globex_after = await chat(stack, "globex", "am I still here?")

    assert created.status_code == 200
    assert refused.status_code == 403
    assert [tenant["id"] for tenant in own_only.json()] == ["globex"]
    assert {t["id"] for t in everyone.json()} == {"platform", "acme", "globex", "initech"}
    assert disabled.json()["disabled"] is True
    assert globex_after.status_code == 401


async def test_key_requests_are_checked_field_by_field(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    platform = stack.auth("platform")
    not_json = await http.post("/v1/keys", content=b"{", headers=platform)
    no_tenant = await http.post("/v1/keys", json={"user": "x", "scopes": []}, headers=platform)
    bad_scopes = await http.post(
        "/v1/keys", json={"tenant": "acme", "user": "x", "scopes": "admin"}, headers=platform
    )
    bad_time = await http.post(
        "/v1/keys",
        json={"tenant": "acme", "user": "x", "tier": "pro", "scopes": ["admin"], "expires_at": 1},
        headers=platform,
    )
    expiring = await http.post(
        "/v1/keys",
        json={
            "tenant": "acme",
            "user": "ci",
            "tier": "tiny",
            "scopes": ["inference"],
            "expires_at": "2030-01-01T00:00:00+00:00",
        },
        headers=platform,
    )
    acme_keys = await http.get("/v1/keys", params={"tenant": "acme"}, headers=platform)
    enabled = await http.post("/v1/tenants/acme:enable", headers=platform)
    unknown = await http.post("/v1/tenants/nobody:disable", headers=platform)

    assert not_json.status_code == 400
    assert no_tenant.status_code == 400
    assert no_tenant.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert bad_scopes.status_code == 400
    assert bad_time.status_code == 400
    assert expiring.status_code == 200, expiring.text
    assert expiring.json()["expires_at"].startswith("2030-01-01")
    assert expiring.json()["tier"] == "tiny"
    assert len(acme_keys.json()) == 4
    assert enabled.json()["disabled"] is False
    assert unknown.status_code == 404


async def test_a_tenant_admin_gets_the_proxys_own_404_and_400(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    acme = stack.auth("acme-admin")
    unknown = await http.get("/v1/nowhere", headers=acme)
    bad_query = await http.get("/v1/cost/spend", params={"groupBy": "NOPE"}, headers=acme)
    no_budget_id = await http.get("/v1/cost/alerts", headers=acme)

    assert unknown.status_code == 404
    assert bad_query.status_code == 400
    assert bad_query.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert no_budget_id.status_code == 403


async def test_a_tenant_deletes_its_own_budgets_but_not_one_the_platform_set(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    def budget(scope: str) -> dict[str, Any]:
        limit = {"currencyCode": "USD", "nanos": "1000000"}
        return {"scope": scope, "period": "BUDGET_PERIOD_DAILY", "limit": limit, "hard": True}

    acme = stack.auth("acme-admin")
    capped = await http.post(
        "/v1/cost/budgets", json=budget("tenants/acme"), headers=stack.auth("platform")
    )
    own = await http.post("/v1/cost/budgets", json=budget("users/acme:bob"), headers=acme)
    cap_id, own_id = capped.json()["budget"]["budgetId"], own.json()["budget"]["budgetId"]

    read = await http.get(f"/v1/cost/budgets/{cap_id}", headers=acme)
    refused = await http.delete(f"/v1/cost/budgets/{cap_id}", headers=acme)
    deleted = await http.delete(f"/v1/cost/budgets/{own_id}", headers=acme)
    still = await http.get(f"/v1/cost/budgets/{cap_id}", headers=stack.auth("platform"))

    assert (capped.json()["budget"]["owner"], own.json()["budget"]["owner"]) == ("platform", "acme")
    assert read.status_code == 200
    assert refused.status_code == 403, refused.text
    assert "platform" in refused.json()["error"]["message"]
    assert deleted.status_code == 200, deleted.text
    assert still.status_code == 200
