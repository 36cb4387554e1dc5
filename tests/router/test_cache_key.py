"""The cache key: the same question gets the same key, any difference in it a different one."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from services.router.cache_codec import CODEC_VERSION
from services.router.cache_key import KEY_VERSION, cache_key
from services.router.chat import (
    CacheControl,
    CallContext,
    ChatRequest,
    FunctionCall,
    FunctionDefinition,
    Message,
    Sampling,
    Tool,
    ToolCall,
)
from services.router.response_cache import CachePolicy

WEATHER = Tool(
    FunctionDefinition(
        name="weather",
        description="The weather in a city.",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 7}},
            "required": ["city"],
        },
    )
)

CALL = ToolCall(id="call_1", function=FunctionCall("weather", '{"city":"Oslo"}'))

BASE = ChatRequest(
    model="gpt-4o",
    messages=(
        Message(role="system", content="Be brief."),
        Message(role="user", content="Weather in Oslo?", name="ana"),
        Message(role="assistant", tool_calls=(CALL,)),
        Message(role="tool", content='{"temp": 3}', tool_call_id="call_1"),
    ),
    tools=(WEATHER,),
    tool_choice="auto",
    sampling=Sampling(temperature=0, top_p=1, max_tokens=100, stop=("\n\n", "END"), seed=7),
    context=CallContext(tenant="acme"),
)


def with_message(index: int, **changes: Any) -> ChatRequest:
    messages = list(BASE.messages)
    messages[index] = dataclasses.replace(messages[index], **changes)
    return dataclasses.replace(BASE, messages=tuple(messages))


def with_sampling(**changes: Any) -> ChatRequest:
    return dataclasses.replace(BASE, sampling=dataclasses.replace(BASE.sampling, **changes))


def test_a_key_is_a_versioned_sha256_digest() -> None:
    key = cache_key(BASE)

    assert re.fullmatch(rf"v{KEY_VERSION}\.{CODEC_VERSION}:[0-9a-f]{{64}}", key)


def test_the_same_request_built_twice_has_the_same_key() -> None:
    copy = dataclasses.replace(BASE, messages=tuple(dataclasses.replace(m) for m in BASE.messages))

    assert cache_key(copy) == cache_key(BASE)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(dataclasses.replace(BASE, model="gpt-4o-mini"), id="model"),
        pytest.param(with_message(1, content="Weather in Bergen?"), id="content"),
        pytest.param(with_message(1, role="assistant"), id="role"),
        pytest.param(with_message(1, name="bo"), id="name"),
        pytest.param(with_message(3, tool_call_id="call_2"), id="tool_call_id"),
        pytest.param(
            with_message(
                2,
                tool_calls=(
                    dataclasses.replace(CALL, function=FunctionCall("weather", '{"city":"Rome"}')),
                ),
            ),
            id="tool_call_arguments",
        ),
        pytest.param(
            with_message(2, tool_calls=(dataclasses.replace(CALL, id="x"),)), id="call_id"
        ),
        pytest.param(dataclasses.replace(BASE, messages=BASE.messages[:2]), id="fewer_messages"),
        pytest.param(
            dataclasses.replace(BASE, messages=(BASE.messages[1], BASE.messages[0])),
            id="message_order",
        ),
        pytest.param(dataclasses.replace(BASE, tools=()), id="no_tools"),
        pytest.param(
            dataclasses.replace(
                BASE,
                tools=(
                    Tool(dataclasses.replace(WEATHER.function, description="Weather forecast.")),
                ),
            ),
            id="tool_description",
        ),
        pytest.param(
            dataclasses.replace(
                BASE,
                tools=(Tool(dataclasses.replace(WEATHER.function, parameters={"type": "object"})),),
            ),
            id="tool_parameters",
        ),
        pytest.param(dataclasses.replace(BASE, tool_choice="required"), id="tool_choice"),
        pytest.param(with_sampling(temperature=0.2), id="temperature"),
        pytest.param(with_sampling(temperature=None), id="temperature_unset"),
        pytest.param(with_sampling(top_p=0.9), id="top_p"),
        pytest.param(with_sampling(max_tokens=101), id="max_tokens"),
        pytest.param(with_sampling(stop=("END",)), id="stop"),
        pytest.param(with_sampling(seed=8), id="seed"),
        pytest.param(with_sampling(seed=None), id="seed_unset"),
    ],
)
def test_anything_that_shapes_the_answer_changes_the_key(changed: ChatRequest) -> None:
    assert cache_key(changed) != cache_key(BASE)


@pytest.mark.parametrize(
    "content", ["Weather in Oslo? ", "Weather  in Oslo?", "Weather in Oslo?\n", " Weather in Oslo?"]
)
def test_whitespace_in_content_is_significant(content: str) -> None:
    assert cache_key(with_message(1, content=content)) != cache_key(BASE)


def test_stop_sequences_are_a_set_order_and_duplicates_do_not_matter() -> None:
    assert cache_key(with_sampling(stop=("END", "\n\n", "END"))) == cache_key(BASE)


@pytest.mark.parametrize(("left", "right"), [(0, 0.0), (-0.0, 0.0), (1, 1.0)])
def test_equal_numbers_are_one_temperature(left: float, right: float) -> None:
    assert cache_key(with_sampling(temperature=left, top_p=left)) == cache_key(
        with_sampling(temperature=right, top_p=right)
    )


def test_tool_parameters_are_compared_as_json_whatever_their_key_order_or_number_type() -> None:
    reordered = {
        "required": ["city"],
        "properties": {"days": {"maximum": 7.0, "type": "integer"}, "city": {"type": "string"}},
        "type": "object",
    }
    tool = Tool(dataclasses.replace(WEATHER.function, parameters=reordered))

    assert cache_key(dataclasses.replace(BASE, tools=(tool,))) == cache_key(BASE)


def test_the_order_of_tools_is_part_of_the_prompt() -> None:
    other = Tool(FunctionDefinition(name="time"))
    one = dataclasses.replace(BASE, tools=(WEATHER, other))
    two = dataclasses.replace(BASE, tools=(other, WEATHER))

    assert cache_key(one) != cache_key(two)


def test_a_tool_calls_stream_index_is_not_part_of_the_key() -> None:
    moved = with_message(2, tool_calls=(dataclasses.replace(CALL, index=3),))

    assert cache_key(moved) == cache_key(BASE)


def test_cache_control_and_call_context_other_than_tenant_do_not_change_the_key() -> None:
    other = dataclasses.replace(
        BASE,
        cache=CacheControl(
            no_cache=True, no_store=True, ttl_seconds=5, allow_nondeterministic=True
        ),
        context=CallContext(
            request_id="r2",
            tenant="acme",
            subject="users/u9",
            endpoint="/v1/chat/completions",
            prompt_name="greeting",
            prompt_version=3,
            flag_variants={"exp": "b"},
        ),
    )

    assert cache_key(other) == cache_key(BASE)


def test_tenants_get_distinct_keys_by_default() -> None:
    other_tenant = dataclasses.replace(BASE, context=CallContext(tenant="globex"))

    assert cache_key(other_tenant) != cache_key(BASE)
    assert CachePolicy().key(other_tenant) != CachePolicy().key(BASE)


def test_a_shared_policy_gives_every_tenant_the_same_key() -> None:
    other_tenant = dataclasses.replace(BASE, context=CallContext(tenant="globex"))
    shared = CachePolicy(shared_across_tenants=True)

    assert cache_key(other_tenant, tenant_scoped=False) == cache_key(BASE, tenant_scoped=False)
    assert shared.key(other_tenant) == shared.key(BASE)
    assert shared.key(BASE) != CachePolicy().key(BASE)
