"""Stored prompts through the gateway, against the real services in process: a chat request
naming a prompt's `production` label is built from its template and config, moving the label
changes the next request's prompt, the request's own parameters win over the config, and the
spend appears per prompt version in the cost service's report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from tests.gateway.pipeline.stack import Stack, running_stack

pytestmark = pytest.mark.asyncio

NAME = "support/greeting"
V1 = {
    "name": NAME,
    "messages": [
        {"role": "system", "content": "You help {{customer}} with their order."},
        {"placeholder": "history"},
    ],
    "config": {"model": "fake-gpt", "temperature": 0.2, "max_tokens": 50},
    "labels": ["production"],
    "commitMessage": "first",
}
V2 = V1 | {
    "messages": [{"role": "system", "content": "Be brief with {{customer}}."}],
    "labels": [],
    "commitMessage": "shorter",
}
SPEND_WAIT_S = 20.0


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


def admin(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{stack.origin}/admin", headers=stack.auth("platform"), timeout=10
    )


async def create(stack: Stack, version: dict[str, Any]) -> int:
    async with admin(stack) as http:
        answer = await http.post("/v1/prompts", json=version)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["version"]["version"])


def client(stack: Stack) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=stack.base_url, api_key=stack.keys["acme"], max_retries=0)


async def chat(stack: Stack, prompt: dict[str, Any], **extra: Any) -> None:
    async with client(stack) as openai:
        await openai.chat.completions.create(
            model="fake-gpt",
            messages=[{"role": "user", "content": "Where is my parcel?"}],
            extra_body={"prompt": prompt},
            **extra,
        )


async def test_production_label_renders_into_the_request(stack: Stack) -> None:
    await create(stack, V1)
    history = [{"role": "assistant", "content": "Hello!"}]
    prompt = {"name": NAME, "variables": {"customer": "Ada"}, "placeholders": {"history": history}}
    await chat(stack, prompt)
    sent = stack.upstream.last_request.body
    assert sent["messages"] == [
        {"role": "system", "content": "You help Ada with their order."},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Where is my parcel?"},
    ]
    assert sent["temperature"] == 0.2
    assert sent["max_tokens"] == 50


async def test_the_requests_own_parameters_win(stack: Stack) -> None:
    await create(stack, V1)
    prompt = {"name": NAME, "variables": {"customer": "Ada"}, "placeholders": {"history": []}}
    await chat(stack, prompt, temperature=0.9)
    sent = stack.upstream.last_request.body
    assert sent["temperature"] == 0.9
    assert sent["max_tokens"] == 50


async def test_moving_the_label_changes_the_next_request(stack: Stack) -> None:
    await create(stack, V1)
    assert await create(stack, V2) == 2
    prompt = {"name": NAME, "variables": {"customer": "Ada"}, "placeholders": {"history": []}}
    await chat(stack, prompt)  # production still points at version 1
    assert "with their order" in stack.upstream.last_request.body["messages"][0]["content"]
    async with admin(stack) as http:
        moved = await http.post(
            f"/v1/prompts/{NAME}:moveLabel",
            json={"label": "production", "version": 2, "expectedVersion": 1},
        )
    assert moved.status_code == 200, moved.text
    await chat(stack, prompt)
    assert stack.upstream.last_request.body["messages"][0]["content"] == "Be brief with Ada."
    await chat(stack, prompt | {"version": 1})  # a pinned version ignores the label
    assert "with their order" in stack.upstream.last_request.body["messages"][0]["content"]


async def test_spend_is_reported_per_prompt_version(stack: Stack) -> None:
    await create(stack, V1)
    await create(stack, V2)
    prompt = {"name": NAME, "variables": {"customer": "Ada"}, "placeholders": {"history": []}}
    await chat(stack, prompt | {"version": 1})
    await chat(stack, prompt | {"version": 2})
    await chat(stack, prompt | {"version": 2})
    rows = await _spend_rows(stack, want_requests=3)
    by_version = {row["group"]["prompt_version"]: int(row["requests"]) for row in rows}
    assert by_version == {f"{NAME}@1": 1, f"{NAME}@2": 2}


async def _spend_rows(stack: Stack, want_requests: int) -> list[dict[str, Any]]:
    """The report grouped by prompt version, once every request has reached the ledger (the
    router hands usage to the cost service after answering)."""
    params = {"groupBy": "SPEND_DIMENSION_PROMPT_VERSION", "tenant": "acme"}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SPEND_WAIT_S
    async with admin(stack) as http:
        while True:
            answer = await http.get("/v1/cost/spend", params=params)
            assert answer.status_code == 200, answer.text
            rows: list[dict[str, Any]] = answer.json().get("rows", [])
            if sum(int(r["requests"]) for r in rows) >= want_requests:
                return rows
            assert loop.time() < deadline, f"spend rows never reached {want_requests}: {rows}"
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(
    ("prompt", "status", "param"),
    [
        ({"name": NAME, "placeholders": {"history": []}}, 400, "prompt.variables.customer"),
        ({"name": "no/such-prompt"}, 404, None),
        ({"name": NAME, "label": "staging"}, 404, None),
        ("support/greeting", 400, "prompt"),
        ({"name": ""}, 400, "prompt.name"),
        ({"name": NAME, "version": 0}, 400, "prompt.version"),
        ({"name": NAME, "label": "production", "version": 1}, 400, "prompt"),
        ({"name": NAME, "variables": ["Ada"]}, 400, "prompt.variables"),
        ({"name": NAME, "placeholders": {"history": [{"role": "user"}]}}, 400,
         "prompt.placeholders.history[0].content"),
        ({"name": NAME, "colour": "blue"}, 400, "prompt.colour"),
    ],
)  # fmt: skip
async def test_bad_prompt_references_are_refused(
    stack: Stack, prompt: object, status: int, param: str | None
) -> None:
    await create(stack, V1)
    body = {"model": "fake-gpt", "messages": [{"role": "user", "content": "Hi"}], "prompt": prompt}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as http:
        answer = await http.post("/chat/completions", json=body, headers=stack.auth("acme"))
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    if param is not None:
        assert error["param"] == param, error
    assert stack.upstream.requests == []  # nothing reached the provider


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("variables", "param"),
    [
        pytest.param({"customer": 10**400}, "prompt.variables", id="number-beyond-a-double"),
        pytest.param({"customer": "\ud800"}, "prompt.variables.customer", id="lone-surrogate"),
        pytest.param({"customer": _nested(40)}, "prompt.variables", id="nested-40-deep"),
    ],
)
async def test_odd_prompt_variables_are_a_400_and_reserve_nothing(
    stack: Stack, variables: dict[str, Any], param: str
) -> None:
    await create(stack, V1)
    prompt = {"name": NAME, "variables": variables}
    body = {"model": "fake-gpt", "messages": [{"role": "user", "content": "Hi"}], "prompt": prompt}
    headers = {**stack.auth("acme"), "content-type": "application/json"}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=10) as http:
        # json.dumps sends the lone surrogate escaped, as `\ud800`: valid JSON, odd text.
        odd = await http.post("/chat/completions", content=json.dumps(body).encode())
        assert stack.upstream.requests == []
        fine = {"name": NAME, "variables": {"customer": "Ada"}, "placeholders": {"history": []}}
        after = await http.post("/chat/completions", json=body | {"prompt": fine})

    assert odd.status_code == 400, odd.text
    error = odd.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param), error
    assert after.status_code == 200, after.text
    assert after.headers["x-ratelimit-remaining-requests"] == "59"  # the odd one reserved nothing
