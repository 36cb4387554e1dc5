"""The suite end to end, as deployed: the rate-limit, cost and router services and the gateway
as separate processes on real Redis and PostgreSQL, keys made with the `switchboard` tool, and
only HTTP from here: the official `openai` SDK for inference, httpx for the admin REST API.

One test walks the whole story, because starting the suite is most of its cost: completions
answer and their remaining-requests header counts down; a tiny tier is refused with 429 and
`Retry-After`; the spend reaches the admin API (router -> Redis stream -> cost ledger); a hard
budget, once spent, blocks with `insufficient_quota`; and another tenant's admin key sees none
of the first tenant's spend or budgets. Stopping the suite fails the test unless every process
exits 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.gateway.suite_processes import Backends, Suite, running_suite

pytestmark = pytest.mark.slow

MODEL = "mock-gpt"
USAGE_DEADLINE = 15.0
"""Seconds a usage event may take from the router's stream to the ledger before we give up."""

BUDGET = {
    "scope": "tenants/acme",
    "period": "BUDGET_PERIOD_MONTHLY",
    "limit": {"currencyCode": "USD", "nanos": "100000"},
    "hard": True,
}
"""$0.0001: a call with max_tokens=100 reserves about 60,000 nanodollars at mock-1's price and
spends a few thousand, so a few calls spend enough that the next one's worst case cannot fit."""

MAX_BUDGET_CALLS = 20
"""The mock's answers cost a few thousand nanodollars each: the budget runs out well before."""


@dataclass(frozen=True)
class BudgetNanos:
    spent: int
    reserved: int


@pytest.fixture
def suite(
    redis_available: str, key_prefix: str, postgres_url: str, tmp_path: Path
) -> Iterator[Suite]:
    with running_suite(Backends(redis_available, key_prefix, postgres_url), tmp_path) as suite:
        yield suite


@pytest.fixture
async def admin(suite: Suite) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=suite.admin_url, timeout=10) as client:
        yield client


def openai_client(suite: Suite, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=suite.base_url, api_key=suite.keys[key], max_retries=0)


async def ask(
    client: openai.AsyncOpenAI, text: str, max_tokens: int | openai.Omit = openai.omit
) -> Mapping[str, str]:
    """One completion; its response headers (after checking it answered)."""
    raw = await client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": text}], max_tokens=max_tokens
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    return raw.headers


async def spent_requests(admin: httpx.AsyncClient, suite: Suite, key: str) -> int:
    answer = await admin.get("/v1/cost/spend", headers=suite.auth(key))
    assert answer.status_code == 200, answer.text
    return sum(int(row.get("requests", 0)) for row in answer.json()["rows"])


async def until_spent(admin: httpx.AsyncClient, suite: Suite, key: str, requests: int) -> int:
    """The usage reaches the ledger off the response's path: wait for `requests` of it; the
    count then seen (more than `requests` would be usage that is not the key's tenant's)."""
    deadline = time.monotonic() + USAGE_DEADLINE
    while (seen := await spent_requests(admin, suite, key)) < requests:
        assert time.monotonic() < deadline, f"only {seen} of {requests} requests reached spend"
        await asyncio.sleep(0.05)
    return seen


async def until_refused_by_tier(client: openai.AsyncOpenAI) -> tuple[int, openai.RateLimitError]:
    """Calls until the tier refuses one: (calls admitted before, the refusal). One a minute is
    admitted, so the third call is refused at the latest, even across a minute's turn."""
    for admitted in range(3):
        try:
            await ask(client, f"tiny call {admitted}")
        except openai.RateLimitError as refusal:
            return admitted, refusal
    raise AssertionError("the tiny tier admitted three calls")


async def budget_status(admin: httpx.AsyncClient, suite: Suite, budget_id: str) -> BudgetNanos:
    answer = await admin.get(f"/v1/cost/budgets/{budget_id}", headers=suite.auth("acme"))
    assert answer.status_code == 200, answer.text
    status = answer.json()["status"]
    return BudgetNanos(
        int(status.get("spent", {}).get("nanos", 0)),
        int(status.get("reserved", {}).get("nanos", 0)),
    )


async def until_charged(
    admin: httpx.AsyncClient, suite: Suite, budget_id: str, before: int
) -> BudgetNanos:
    """Once a call's usage reaches the budget, its spend replaces its reservation."""
    deadline = time.monotonic() + USAGE_DEADLINE
    while (now := await budget_status(admin, suite, budget_id)).reserved or now.spent <= before:
        assert time.monotonic() < deadline, f"the call never reached the budget: {now}"
        await asyncio.sleep(0.05)
    return now


async def until_refused_by_budget(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient, suite: Suite, budget_id: str
) -> tuple[BudgetNanos, openai.RateLimitError]:
    """Calls, each charged before the next, until the budget refuses one: (the budget as it
    stood then, the refusal)."""
    budget = await budget_status(admin, suite, budget_id)
    for admitted in range(MAX_BUDGET_CALLS):
        try:
            await ask(client, f"budget call {admitted}", max_tokens=100)
        except openai.RateLimitError as refusal:
            return budget, refusal
        budget = await until_charged(admin, suite, budget_id, budget.spent)
    raise AssertionError(f"the hard budget admitted {MAX_BUDGET_CALLS} calls")


async def test_the_suite_as_deployed_answers_limits_charges_and_confines_tenants(
    suite: Suite, admin: httpx.AsyncClient
) -> None:
    async with openai_client(suite, "acme") as acme, openai_client(suite, "globex") as globex:
        first = await ask(acme, "hello")
        second = await ask(acme, "hello again")
        globex_calls, tier_refusal = await until_refused_by_tier(globex)

        assert first["x-ratelimit-limit-requests"] == "1000"
        assert int(second["x-ratelimit-remaining-requests"]) == (
            int(first["x-ratelimit-remaining-requests"]) - 1
        )
        assert first["x-request-id"] != second["x-request-id"]
        assert globex_calls >= 1
        assert tier_refusal.code == "rate_limit_exceeded"
        assert 0 < int(tier_refusal.response.headers["retry-after"]) <= 60

        assert await until_spent(admin, suite, "acme", 2) == 2
        created = await admin.post("/v1/cost/budgets", json=BUDGET, headers=suite.auth("acme"))
        assert created.status_code == 200, created.text
        budget_id = created.json()["budget"]["budgetId"]
        spent, budget_refusal = await until_refused_by_budget(acme, admin, suite, budget_id)

    assert spent.spent > 0
    assert budget_refusal.code == "insufficient_quota"
    assert "tenants/acme is spent" in budget_refusal.message
    assert budget_refusal.response.headers["x-should-retry"] == "false"
    assert await budget_status(admin, suite, budget_id) == spent  # the refusal charged nothing

    globex_admin = suite.auth("globex")
    assert await until_spent(admin, suite, "globex", globex_calls) == globex_calls
    acme_data = await admin.get("/v1/cost/spend", params={"tenant": "acme"}, headers=globex_admin)
    acme_budget = await admin.get(f"/v1/cost/budgets/{budget_id}", headers=globex_admin)
    budgets = await admin.get("/v1/cost/budgets", headers=globex_admin)
    assert acme_data.status_code == 403
    assert acme_budget.status_code == 404
    assert budgets.json()["statuses"] == []
