"""Joining a stream's chunks back into the completion it spelled out."""

from __future__ import annotations

from services.router.chat import (
    ChoiceDelta,
    FunctionCall,
    Message,
    StreamChunk,
    ToolCall,
    Usage,
)
from services.router.stream_assembly import StreamAssembler


def test_content_tool_call_pieces_finish_reason_and_usage_are_joined() -> None:
    chunks = [
        StreamChunk("c1", (ChoiceDelta(0, Message("assistant")),), upstream_model="m-1"),
        StreamChunk("c1", (ChoiceDelta(0, Message("", "Hel")),)),
        StreamChunk("c1", (ChoiceDelta(0, Message("", "lo")),)),
        StreamChunk(
            "c1",
            (
                ChoiceDelta(
                    0,
                    Message(
                        "", tool_calls=(ToolCall("call_1", FunctionCall("f", '{"a"'), index=0),)
                    ),
                ),
            ),
        ),
        StreamChunk(
            "c1",
            (
                ChoiceDelta(
                    0, Message("", tool_calls=(ToolCall("", FunctionCall("", ": 1}"), index=0),))
                ),
            ),
        ),
        StreamChunk("c1", (ChoiceDelta(0, Message(""), "tool_calls"),)),
        StreamChunk("c1", usage=Usage(5, 7, 1)),
    ]
    assembler = StreamAssembler()
    for chunk in chunks:
        assembler.add(chunk)
    completion = assembler.completion()
    assert completion.id == "c1"
    assert completion.upstream_model == "m-1"
    assert completion.usage == Usage(5, 7, 1)
    (choice,) = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Hello"
    assert choice.message.tool_calls == (
        ToolCall("call_1", FunctionCall("f", '{"a": 1}'), index=0),
    )


def test_an_empty_stream_gives_an_empty_completion_with_zero_usage() -> None:
    completion = StreamAssembler().completion()
    assert completion.choices == ()
    assert completion.usage == Usage()
