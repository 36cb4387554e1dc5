from __future__ import annotations

from typing import Any

import pytest
from switchboard.router.v1 import router_service_pb2 as pb

from gateway.openai.errors import OpenAIError
from gateway.openai.json_body import decode_body
from gateway.openai.requests import parse_chat_completion

USER = {"role": "user", "content": "Hi"}


def parse(**fields: Any) -> Any:
    return parse_chat_completion({"model": "small", "messages": [USER], **fields})


def refusal(body: object) -> OpenAIError:
    with pytest.raises(OpenAIError) as caught:
        parse_chat_completion(body)
    assert caught.value.status == 400
    assert caught.value.type == "invalid_request_error"
    return caught.value


def refusal_of(**fields: Any) -> OpenAIError:
    return refusal({"model": "small", "messages": [USER], **fields})


def test_minimal_body_becomes_a_complete_request() -> None:
    call = parse()

    assert call.request.model == "small"
    assert [(m.role, m.content) for m in call.request.messages] == [("user", "Hi")]
    assert not call.request.HasField("temperature")
    assert not call.request.HasField("max_tokens")
    assert (call.stream, call.include_usage, call.user) == (False, False, None)
    assert call.request.context.endpoint == "/v1/chat/completions"


def test_call_context_is_carried_and_keeps_its_endpoint() -> None:
    context = pb.CallContext(request_id="r1", tenant="t1", subject="keys/k1", endpoint="/x")

    call = parse_chat_completion({"model": "m", "messages": [USER]}, context)

    assert call.request.context == context
    assert call.stream_request().request == call.request


def test_text_parts_are_concatenated() -> None:
    parts = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]

    call = parse(messages=[{"role": "user", "content": parts}])

    assert call.request.messages[0].content == "Hello world"


def test_assistant_refusal_part_is_kept_as_text() -> None:
    message = {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}

    call = parse(messages=[USER, message])

    assert call.request.messages[1].content == "No."


def test_image_part_is_refused_naming_the_part() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    error = refusal_of(messages=[{"role": "user", "content": [image]}])

    assert error.param == "messages[0].content[0].type"
    assert error.code == "unsupported_value"


def test_conversation_with_tool_calls_and_answers() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "developer", "content": "rules", "name": "ops"},
        USER,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]

    request = parse(messages=messages).request

    assert request.messages[0].name == "ops"
    assert request.messages[2].content == ""
    assert request.messages[2].tool_calls[0] == pb.ToolCall(
        id="c1", type="function", function=pb.FunctionCall(name="f", arguments="{}")
    )
    assert request.messages[3].tool_call_id == "c1"


def test_tools_with_parameters_and_forced_choice() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "f",
            "description": "does f",
            "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}},
            "strict": True,
        },
    }
    choice = {"type": "function", "function": {"name": "f"}}

    request = parse(tools=[tool], tool_choice=choice).request

    assert request.tools[0].function.name == "f"
    assert request.tools[0].function.description == "does f"
    assert request.tools[0].function.parameters["properties"]["x"]["type"] == "integer"
    assert request.tool_choice == "f"


@pytest.mark.parametrize("mode", ["none", "auto", "required"])
def test_tool_choice_modes(mode: str) -> None:
    assert parse(tool_choice=mode).request.tool_choice == mode


def test_deprecated_functions_become_tools() -> None:
    functions = [{"name": "f", "parameters": {"type": "object"}}]

    request = parse(functions=functions, function_call={"name": "f"}).request

    assert request.tools[0].type == "function"
    assert request.tools[0].function.name == "f"
    assert request.tool_choice == "f"
    assert parse(functions=functions, function_call="auto").request.tool_choice == "auto"


def test_sampling_fields() -> None:
    request = parse(temperature=0, top_p=0.5, max_tokens=10, stop="END", seed=-3).request

    assert (request.temperature, request.top_p, request.max_tokens) == (0.0, 0.5, 10)
    assert (list(request.stop), request.seed) == (["END"], -3)


def test_max_completion_tokens_and_stop_list() -> None:
    request = parse(max_completion_tokens=20, stop=["a", "b"]).request

    assert (request.max_tokens, list(request.stop)) == (20, ["a", "b"])


def test_stream_with_include_usage() -> None:
    call = parse(stream=True, stream_options={"include_usage": True}, user="u1")

    assert (call.stream, call.include_usage, call.user) == (True, True, "u1")


def test_nulls_unknown_fields_n_one_and_text_format_are_accepted() -> None:
    call = parse(
        temperature=None,
        stop=None,
        n=1,
        response_format={"type": "text"},
        frequency_penalty=0.5,
        logit_bias={"1": 2},
        parallel_tool_calls=False,
        metadata={"a": "b"},
    )

    assert not call.request.HasField("temperature")
    assert list(call.request.stop) == []


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": [USER]}, "model", "missing_required_parameter"),
        ({"model": 3, "messages": [USER]}, "model", "invalid_type"),
        ({"model": "m"}, "messages", "missing_required_parameter"),
        ({"model": "m", "messages": "hi"}, "messages", "invalid_type"),
        ({"model": "m", "messages": []}, "messages", "invalid_value"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]", "invalid_type"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role", None),
        (
            {"model": "m", "messages": [{"role": "wizard", "content": "x"}]},
            "messages[0].role",
            None,
        ),
        ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content", None),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content", None),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
            None,
        ),
        (
            {"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]},
            "messages[0].role",
            "unsupported_value",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "function_call": {"name": "f"}}]},
            "messages[0].function_call",
            "unsupported_value",
        ),
    ],
)
def test_bad_bodies_name_the_field(body: dict[str, Any], param: str, code: str | None) -> None:
    error = refusal(body)

    assert error.param == param
    if code is not None:
        assert error.code == code


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 2.5}, "max_tokens"),
        ({"max_completion_tokens": 2**31}, "max_completion_tokens"),
        ({"max_tokens": 5, "max_completion_tokens": 5}, "max_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"stop": [1]}, "stop[0]"),
        ({"stop": 1}, "stop"),
        ({"seed": 2**63}, "seed"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"stream": True, "stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
        ({"stream": True, "stream_options": []}, "stream_options"),
        ({"user": 5}, "user"),
        ({"n": 2}, "n"),
        ({"n": 0}, "n"),
        ({"response_format": {"type": "json_object"}}, "response_format.type"),
        ({"response_format": {}}, "response_format.type"),
        ({"tools": {}}, "tools"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"function": {"description": "x"}}]}, "tools[0].function.name"),
        (
            {"tools": [{"function": {"name": "f", "parameters": []}}]},
            "tools[0].function.parameters",
        ),
        ({"tools": [], "functions": []}, "functions"),
        ({"tool_choice": "always"}, "tool_choice"),
        ({"tool_choice": {"type": "function"}}, "tool_choice.function"),
        ({"tool_choice": 3}, "tool_choice"),
        ({"function_call": {}}, "function_call.name"),
    ],
)
def test_bad_fields_are_refused_with_their_param(fields: dict[str, Any], param: str) -> None:
    assert refusal_of(**fields).param == param


@pytest.mark.parametrize(
    ("call", "param"),
    [
        ("x", "messages[0].tool_calls[0]"),
        ({"type": "web", "id": "c", "function": {}}, "messages[0].tool_calls[0].type"),
        ({"function": {"name": "f"}}, "messages[0].tool_calls[0].id"),
        ({"id": "c"}, "messages[0].tool_calls[0].function"),
        ({"id": "c", "function": {"arguments": "{}"}}, "messages[0].tool_calls[0].function.name"),
    ],
)
def test_bad_tool_calls_name_the_field(call: object, param: str) -> None:
    message = {"role": "assistant", "content": None, "tool_calls": [call]}

    assert refusal({"model": "m", "messages": [message]}).param == param


def test_body_that_is_not_an_object_is_refused() -> None:
    assert refusal([1, 2]).code == "invalid_type"


def test_json_body_is_decoded() -> None:
    assert decode_body(b'{"model": "m"}') == {"model": "m"}


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe\xfa", b"[" * 100_000])
def test_body_that_is_not_json_is_a_bad_request(raw: bytes) -> None:
    with pytest.raises(OpenAIError) as caught:
        decode_body(raw)

    assert (caught.value.status, caught.value.code) == (400, "invalid_json")


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'"\\ud800"', None),
        (b'{"messages": [{"content": "ok"}, {"content": "a\\udc00"}]}', "messages[1].content"),
        (b'{"metadata": {"\\ud800": 1}}', "metadata"),
    ],
)
def test_a_lone_surrogate_is_refused_naming_where_it_is(raw: bytes, param: str | None) -> None:
    with pytest.raises(OpenAIError) as caught:
        decode_body(raw)

    assert (caught.value.status, caught.value.param) == (400, param)
