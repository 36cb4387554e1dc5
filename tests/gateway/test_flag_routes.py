"""Flags through the gateway, against the real services in process: an experiment flag picks
each caller's model (sticky per user), the variant reaches the cost report and the exposure
counts, a missing flag never fails a request, and OFREP serves the flags to the real
`openfeature-provider-ofrep`, the kill switch included."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode, OpenFeatureError
from openfeature.flag_evaluation import Reason

from tests.gateway.pipeline.stack import Stack, running_stack

pytestmark = pytest.mark.asyncio

FLAG_SET = "gateway"
FLAGS = {
    "flags": {
        "chat-model": {
            "state": "ENABLED",
            "variants": {"control": {"model": "mock-gpt"}, "fake": {"model": "fake-gpt"}},
            "defaultVariant": "control",
            "targeting": {"if": [{"==": [{"var": "tenant"}, "acme"]}, "fake", "control"]},
        },
        "split": {
            "state": "ENABLED",
            "variants": {"a": {"model": "mock-gpt"}, "b": {"model": "fake-gpt"}},
            "defaultVariant": "a",
            "targeting": {"fractional": [["a", 50], ["b", 50]]},
        },
        "new-ui": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
            "targeting": {"if": [{"starts_with": [{"var": "targetingKey"}, "beta-"]}, "on", "off"]},
        },
        "retries": {"state": "ENABLED", "variants": {"few": 2, "many": 5}, "defaultVariant": "few"},
        "ratio": {
            "state": "ENABLED",
            "variants": {"low": 0.25, "high": 0.75},
            "defaultVariant": "high",
        },
        "greeting": {
            "state": "ENABLED",
            "variants": {"en": "hello", "fr": "bonjour"},
            "defaultVariant": "en",
            "targeting": {"if": [{"==": [{"var": "tenant"}, "globex"]}, "fr", "en"]},
        },
    }
}
WAIT_S = 20.0


def stack_fixture(flags: str) -> Callable[[Path], AsyncIterator[Stack]]:
    async def fixture(tmp_path: Path) -> AsyncIterator[Stack]:
        settings = {
            "experiment_flags": flags,
            "flag_selector": FLAG_SET,
            "exposure_flush_seconds": "0.05",
        }
        async with running_stack(tmp_path, **settings) as running:
            await import_flags(running)
            yield running

    return fixture


stack = pytest.fixture(stack_fixture("chat-model"))
split_stack = pytest.fixture(stack_fixture("split"))
missing_flag_stack = pytest.fixture(stack_fixture("no-such-flag"))


def admin(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{stack.origin}/admin", headers=stack.auth("platform"), timeout=10
    )


async def import_flags(stack: Stack) -> None:
    async with admin(stack) as http:
        answer = await http.post(
            f"/v1/flags/sets/{FLAG_SET}:import",
            json={"flagdJson": json.dumps(FLAGS), "message": "test flags"},
        )
    assert answer.status_code == 200, answer.text


async def chat(stack: Stack, key: str, model: str = "mock-gpt") -> str:
    """One completion as `key`; the model that answered it."""
    async with AsyncOpenAI(
        base_url=stack.base_url, api_key=stack.keys[key], max_retries=0
    ) as openai:
        completion = await openai.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Which model are you?"}]
        )
    return completion.model


async def eventually(check: Callable[[], Awaitable[Any]]) -> Any:
    """`check()` once it returns something truthy; work the services do after answering."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not (found := await check()):
        assert loop.time() < deadline, "never happened"
        await asyncio.sleep(0.05)
    return found


async def test_the_experiment_picks_the_model_per_tenant(stack: Stack) -> None:
    for _ in range(3):
        assert await chat(stack, "acme") == "fake-gpt"
        assert await chat(stack, "globex") == "mock-gpt"
    assert len(stack.upstream.requests) == 3  # acme's calls went to the fake upstream

    async def variant_rows() -> dict[str, int] | None:
        params = {"groupBy": "SPEND_DIMENSION_FLAG_VARIANT"}
        async with admin(stack) as http:
            rows = (await http.get("/v1/cost/spend", params=params)).json().get("rows", [])
        found = {row["group"]["flag_variant"]: int(row["requests"]) for row in rows}
        return found if sum(found.values()) >= 6 else None

    assert await eventually(variant_rows) == {"chat-model=fake": 3, "chat-model=control": 3}

    async def exposures() -> dict[str, int] | None:
        async with admin(stack) as http:
            answer = await http.get("/v1/flags/exposures/chat-model")
        counts = {e["variant"]: int(e["count"]) for e in answer.json().get("exposures", [])}
        return counts if sum(counts.values()) >= 6 else None

    assert await eventually(exposures) == {"fake": 3, "control": 3}


async def test_a_fractional_split_is_sticky_per_user(split_stack: Stack) -> None:
    for key in ("acme", "globex", "platform"):
        models = {await chat(split_stack, key) for _ in range(4)}
        assert len(models) == 1, f"{key} saw {models}"


async def test_a_missing_flag_never_fails_a_request(missing_flag_stack: Stack) -> None:
    assert await chat(missing_flag_stack, "acme") == "mock-gpt"


def provider(stack: Stack, key: str = "acme") -> OFREPProvider:
    auth = stack.auth(key)
    return OFREPProvider(stack.origin, headers_factory=lambda: auth, timeout=10)


async def test_ofrep_evaluates_every_type_with_the_real_provider(stack: Stack) -> None:
    ofrep = provider(stack)
    beta = EvaluationContext(targeting_key="beta-7")
    plain = EvaluationContext(targeting_key="user-1")
    on = await asyncio.to_thread(ofrep.resolve_boolean_details, "new-ui", False, beta)
    off = await asyncio.to_thread(ofrep.resolve_boolean_details, "new-ui", True, plain)
    assert (on.value, on.variant, on.reason) == (True, "on", Reason.TARGETING_MATCH)
    assert (off.value, off.variant) == (False, "off")
    retries = await asyncio.to_thread(ofrep.resolve_integer_details, "retries", 0, plain)
    ratio = await asyncio.to_thread(ofrep.resolve_float_details, "ratio", 0.0, plain)
    model = await asyncio.to_thread(ofrep.resolve_object_details, "chat-model", {}, plain)
    assert (retries.value, ratio.value) == (2, 0.75)
    assert model.value == {"model": "fake-gpt"}  # the key's tenant, acme, is in the context
    greeting = provider(stack, "globex").resolve_string_details
    assert (await asyncio.to_thread(greeting, "greeting", "?", plain)).value == "bonjour"


async def test_ofrep_tenant_cannot_be_spoofed(stack: Stack) -> None:
    body = {"context": {"targetingKey": "u", "tenant": "globex"}}
    async with httpx.AsyncClient(base_url=stack.origin, timeout=10) as http:
        answer = await http.post(
            "/ofrep/v1/evaluate/flags/greeting", json=body, headers=stack.auth("acme")
        )
    assert answer.status_code == 200
    assert answer.json()["value"] == "hello"


async def test_ofrep_bulk_answers_every_flag_with_an_etag(stack: Stack) -> None:
    body = {"context": {"targetingKey": "user-1"}}
    async with httpx.AsyncClient(base_url=stack.origin, timeout=10) as http:
        first = await http.post("/ofrep/v1/evaluate/flags", json=body, headers=stack.auth("acme"))
        etag = first.headers["etag"]
        again = await http.post(
            "/ofrep/v1/evaluate/flags",
            json=body,
            headers={**stack.auth("acme"), "if-none-match": etag},
        )
    assert first.status_code == 200
    keys = [flag["key"] for flag in first.json()["flags"]]
    assert keys == sorted(FLAGS["flags"])
    assert again.status_code == 304


async def test_a_disabled_flag_leaves_the_bulk_answer_and_alone_answers_disabled(
    stack: Stack,
) -> None:
    body = {"context": {"targetingKey": "user-1"}}
    async with admin(stack) as http:
        killed = await http.post(f"/v1/flags/sets/{FLAG_SET}/flags/retries:disable", json={})
    assert killed.status_code == 200, killed.text
    async with httpx.AsyncClient(base_url=stack.origin, timeout=10) as http:
        bulk = await http.post("/ofrep/v1/evaluate/flags", json=body, headers=stack.auth("acme"))
        alone = await http.post(
            "/ofrep/v1/evaluate/flags/retries", json=body, headers=stack.auth("acme")
        )
    assert bulk.status_code == 200
    assert [flag["key"] for flag in bulk.json()["flags"]] == sorted(
        set(FLAGS["flags"]) - {"retries"}
    )  # as flagd's OFREP: its bulk evaluation leaves disabled flags out
    assert alone.status_code == 200
    assert alone.json() == {"key": "retries", "reason": "DISABLED", "variant": "", "metadata": {}}
    context = EvaluationContext(targeting_key="user-1")
    retries = provider(stack).resolve_integer_details
    answer = await asyncio.to_thread(retries, "retries", 7, context)
    assert (answer.value, answer.reason) == (7, Reason.DISABLED)  # an integer flag, too


async def test_the_kill_switch_reaches_ofrep_clients(stack: Stack) -> None:
    ofrep = provider(stack)
    context = EvaluationContext(targeting_key="beta-1")
    before = await asyncio.to_thread(ofrep.resolve_boolean_details, "new-ui", False, context)
    assert before.value is True
    async with admin(stack) as http:
        killed = await http.post(f"/v1/flags/sets/{FLAG_SET}/flags/new-ui:disable", json={})
    assert killed.status_code == 200, killed.text
    after = await asyncio.to_thread(ofrep.resolve_boolean_details, "new-ui", False, context)
    assert (after.value, after.reason) == (False, Reason.DISABLED)  # the caller's default
    with pytest.raises(OpenFeatureError) as refused:
        await asyncio.to_thread(ofrep.resolve_boolean_details, "no-such-flag", False, context)
    assert refused.value.error_code == ErrorCode.FLAG_NOT_FOUND


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/ofrep/v1/evaluate/flags/no-such-flag", {"context": {}}, 404, "FLAG_NOT_FOUND"),
        ("/ofrep/v1/evaluate/flags/new-ui", "not json", 400, "PARSE_ERROR"),
        ("/ofrep/v1/evaluate/flags/new-ui", {"context": []}, 400, "INVALID_CONTEXT"),
        ("/ofrep/v1/evaluate/flags/new-ui", {"context": {"targetingKey": 7}}, 400,
         "INVALID_CONTEXT"),
    ],
)  # fmt: skip
async def test_ofrep_bad_requests(
    stack: Stack, path: str, body: object, status: int, code: str
) -> None:
    content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    async with httpx.AsyncClient(base_url=stack.origin, timeout=10) as http:
        answer = await http.post(path, content=content, headers=stack.auth("acme"))
        anonymous = await http.post(path, content=content)
    assert answer.status_code == status, answer.text
    assert answer.json()["errorCode"] == code
    assert anonymous.status_code == 401


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("raw", "code", "details"),
    [
        pytest.param(
            json.dumps({"context": {"n": 10**400}}), "INVALID_CONTEXT",
            "'context' holds a number too large for a double", id="number-beyond-a-double",
        ),
        pytest.param(
            json.dumps({"context": _nested(40)}), "INVALID_CONTEXT",
            "'context' is nested more than 32 levels deep", id="nested-40-deep",
        ),
        pytest.param(
            '{"context": {"n": ' + "9" * 5000 + "}}", "PARSE_ERROR", "the body is not JSON",
            id="integer-over-4300-digits",
        ),
    ],
)  # fmt: skip
async def test_ofrep_odd_json_values_are_a_400_in_ofreps_shape(
    stack: Stack, raw: str, code: str, details: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.origin, timeout=10) as http:
        one = await http.post(
            "/ofrep/v1/evaluate/flags/new-ui", content=raw.encode(), headers=stack.auth("acme")
        )
        bulk = await http.post(
            "/ofrep/v1/evaluate/flags", content=raw.encode(), headers=stack.auth("acme")
        )

    assert one.status_code == 400, one.text
    assert one.json() == {"key": "new-ui", "errorCode": code, "errorDetails": details}
    assert bulk.status_code == 400, bulk.text
    assert bulk.json() == {"errorCode": code, "errorDetails": details}
