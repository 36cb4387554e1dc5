"""Request validation: every bad field of a chat request named at once, in OpenAI's limits."""

from __future__ import annotations

import pytest

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
from services.router.validation import validate_chat_request
from svckit.errors import InvalidArgument

USER = Message("user", "hi")


def fields(request: ChatRequest) -> list[str]:
    with pytest.raises(InvalidArgument) as caught:
        validate_chat_request(request, max_ttl_seconds=60)
    return [v.field for v in caught.value.violations]


def tool(name: str = "lookup", **schema: object) -> Tool:
    return Tool(FunctionDefinition(name, parameters=schema or {"type": "object"}))


def test_a_good_request_with_tools_and_a_tool_conversation_passes() -> None:
    call = ToolCall("call_1", FunctionCall("lookup", '{"q": "x"}'))
    request = ChatRequest(
        model="gpt",
        messages=(
            Message("system", "be brief"),
            USER,
            Message("assistant", tool_calls=(call,)),
            Message("tool", "42", tool_call_id="call_1"),
        ),
        tools=(tool(),),
        tool_choice="lookup",
        sampling=Sampling(temperature=0, top_p=1, max_tokens=10, stop=("\n",), seed=3),
        cache=CacheControl(ttl_seconds=60),
        context=CallContext(request_id="req-1.a:b"),
    )
    validate_chat_request(request, max_ttl_seconds=60)


def test_model_messages_and_sampling_are_checked_together() -> None:
    request = ChatRequest(
        model="",
        messages=(),
        sampling=Sampling(temperature=-1, top_p=1.5, max_tokens=0, stop=("a", "", "c", "d", "e")),
        cache=CacheControl(ttl_seconds=61),
        context=CallContext(request_id="has space"),
    )
    assert fields(request) == [
        "model",
        "messages",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "stop",
        "cache.ttl",
        "context.request_id",
    ]


def test_tool_calls_are_only_for_assistants_and_need_an_id_a_name_and_json_arguments() -> None:
    bad_call = ToolCall("", FunctionCall("no spaces", "[1, 2]"))
    request = ChatRequest(
        model="gpt",
        messages=(Message("user", "x", tool_calls=(bad_call,)), Message("tool", "y")),
    )
    assert fields(request) == [
        "messages[0].tool_calls",
        "messages[0].tool_calls[0].id",
        "messages[0].tool_calls[0].function.name",
        "messages[0].tool_calls[0].function.arguments",
        "messages[1].tool_call_id",
    ]


def test_tools_need_unique_names_object_schemas_and_a_choice_among_them() -> None:
    request = ChatRequest(
        model="gpt",
        messages=(USER,),
        tools=(tool(), tool(), tool("other", type="array")),
        tool_choice="missing",
    )
    assert fields(request) == [
        "tools[1].function.name",
        "tools[2].function.parameters",
        "tool_choice",
    ]


def test_required_tool_choice_needs_a_tool() -> None:
    assert fields(ChatRequest(model="gpt", messages=(USER,), tool_choice="required")) == [
        "tool_choice"
    ]


def test_more_messages_than_the_limit_are_refused_without_checking_each() -> None:
    request = ChatRequest(model="gpt", messages=(Message("robot", "x"),) * 10_001)
    assert fields(request)[0] == "messages"
    assert len(fields(request)) == 10_001
