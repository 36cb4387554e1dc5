from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf import timestamp_pb2
from switchboard.router.v1 import router_service_pb2 as pb

from gateway.openai.responses import ChunkTranslator, chat_completion, model_list, translate_stream
from tests.gateway.openai.scripted_router import answer, stream_answer


def fixed_clock() -> float:
    return 1_234.5


def test_completion_has_openais_shape() -> None:
    body = chat_completion(answer("small"))

    assert body == {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "small",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello there!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 5,
            "total_tokens": 17,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
        "system_fingerprint": None,
    }


def test_tool_call_message_has_null_content() -> None:
    message = chat_completion(answer("tools"))["choices"][0]["message"]

    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]


def test_undated_answer_takes_the_clocks_time_and_defaults() -> None:
    response = pb.CompleteResponse(id="x", model="m", choices=[pb.Choice(message=pb.ChatMessage())])

    body = chat_completion(response, clock=fixed_clock)

    assert body["created"] == 1234
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["finish_reason"] is None


def translated(model: str, include_usage: bool) -> list[dict[str, object]]:
    translator = ChunkTranslator(include_usage, clock=fixed_clock)
    return [body for chunk in stream_answer(model) for body in translator.translate(chunk)]


def test_stream_with_usage_ends_with_a_usage_only_chunk() -> None:
    chunks = translated("small", include_usage=True)

    assert chunks[0]["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert [c["choices"][0]["delta"] for c in chunks[1:4]] == [  # type: ignore[index]
        {"content": "Hel"},
        {"content": "lo "},
        {"content": "there!"},
    ]
    assert chunks[4]["choices"][0]["finish_reason"] == "stop"  # type: ignore[index]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 17  # type: ignore[index]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert {(c["id"], c["object"], c["created"], c["model"]) for c in chunks} == {
        ("chatcmpl-s", "chat.completion.chunk", 1_700_000_000, "small")
    }


def test_stream_without_usage_omits_usage_everywhere() -> None:
    chunks = translated("small", include_usage=False)

    assert len(chunks) == 5
    assert all("usage" not in c for c in chunks)


def test_tool_call_deltas_name_the_call_once_then_carry_arguments_by_index() -> None:
    chunks = translated("tools", include_usage=False)
    calls = [c["choices"][0]["delta"].get("tool_calls") for c in chunks]  # type: ignore[index]

    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}  # type: ignore[index]
    assert calls[1] == [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
    ]
    assert calls[2] == [{"index": 0, "function": {"arguments": '{"ci'}}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"  # type: ignore[index]


def test_first_delta_gets_a_role_and_null_content_when_it_is_a_tool_call() -> None:
    call = pb.ToolCall(index=0, id="c", function=pb.FunctionCall(name="f", arguments="{}"))
    chunk = pb.StreamCompleteResponse(
        id="s", model="m", choices=[pb.ChoiceDelta(delta=pb.ChatMessage(tool_calls=[call]))]
    )

    [body] = ChunkTranslator(False, clock=fixed_clock).translate(chunk)

    assert body["created"] == 1234
    delta = body["choices"][0]["delta"]
    assert (delta["role"], delta["content"]) == ("assistant", None)
    assert delta["tool_calls"][0]["type"] == "function"


def test_final_chunk_with_choices_and_usage_gives_two_chunks() -> None:
    translator = ChunkTranslator(True)
    translator.translate(stream_answer("small")[0])
    last = pb.StreamCompleteResponse(
        choices=[pb.ChoiceDelta(finish_reason="length")], usage=pb.Usage(input_tokens=1)
    )

    finish, usage = translator.translate(last)

    assert finish["choices"][0]["finish_reason"] == "length"
    assert (finish["id"], usage["choices"]) == ("chatcmpl-s", [])
    assert usage["usage"]["prompt_tokens"] == 1


async def test_translate_stream_flattens_router_chunks() -> None:
    async def router() -> AsyncIterator[pb.StreamCompleteResponse]:
        for chunk in stream_answer("small"):
            yield chunk

    bodies = [body async for body in translate_stream(router(), include_usage=True)]

    assert len(bodies) == 6


def test_models_list_has_openais_shape() -> None:
    listing = pb.ListModelsResponse(models=[pb.Model(name="a"), pb.Model(name="b")])

    assert model_list(listing, created=7) == {
        "object": "list",
        "data": [
            {"id": "a", "object": "model", "created": 7, "owned_by": "switchboard"},
            {"id": "b", "object": "model", "created": 7, "owned_by": "switchboard"},
        ],
    }
    assert model_list(pb.ListModelsResponse())["data"] == []
    assert timestamp_pb2.Timestamp().seconds == 0
