"""Joins a stream's chunks back into one completion: for the cache and the usage event.

Content pieces are concatenated per choice (its first delta gives the role); tool calls are
joined by their index, the first piece giving the id and name and every piece adding to the
arguments; the last finish reason and the usage (on the final chunk) are kept. A stream that
ended early has no finish reason, so it is never cached. `assemble_stream` is the inverse of
the cache's `replay_as_stream`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from services.router.chat import (
    Choice,
    ChoiceDelta,
    Completion,
    FunctionCall,
    Message,
    StreamChunk,
    ToolCall,
    Usage,
)


@dataclass
class _ToolCallParts:
    id: str = ""
    name: str = ""
    type: str = "function"
    arguments: list[str] = field(default_factory=list)


@dataclass
class _ChoiceParts:
    first: Message | None = None
    """The choice's first delta: its role (and name) stand for the whole message."""
    content: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCallParts] = field(default_factory=dict)
    finish_reason: str = ""


class StreamAssembler:
    def __init__(self) -> None:
        self.id = ""
        self.upstream_model = ""
        self.usage: Usage | None = None
        self._choices: dict[int, _ChoiceParts] = {}

    def add(self, chunk: StreamChunk) -> None:
        self.id = self.id or chunk.id
        self.upstream_model = self.upstream_model or chunk.upstream_model
        if chunk.usage is not None:
            self.usage = chunk.usage
        for delta in chunk.choices:
            self._add_delta(delta)

    def _add_delta(self, delta: ChoiceDelta) -> None:
        parts = self._choices.setdefault(delta.index, _ChoiceParts())
        parts.first = parts.first or delta.delta
        if delta.delta.content:
            parts.content.append(delta.delta.content)
        for call in delta.delta.tool_calls:
            joined = parts.tool_calls.setdefault(call.index, _ToolCallParts())
            joined.id = joined.id or call.id
            joined.name = joined.name or call.function.name
            joined.type = call.type or joined.type
            joined.arguments.append(call.function.arguments)
        if delta.finish_reason:
            parts.finish_reason = delta.finish_reason

    def completion(self) -> Completion:
        choices = tuple(
            Choice(index, self._message(parts), parts.finish_reason)
            for index, parts in sorted(self._choices.items())
        )
        return Completion(self.id, choices, self.usage or Usage(), self.upstream_model)

    @staticmethod
    def _message(parts: _ChoiceParts) -> Message:
        calls = tuple(
            ToolCall(c.id, FunctionCall(c.name, "".join(c.arguments)), c.type, index)
            for index, c in sorted(parts.tool_calls.items())
        )
        first = parts.first or Message(role="")
        return replace(first, content="".join(parts.content), tool_calls=calls)


def assemble_stream(chunks: Iterable[StreamChunk]) -> Completion:
    """The whole answer `chunks` delivered."""
    assembler = StreamAssembler()
    for chunk in chunks:
        assembler.add(chunk)
    return assembler.completion()
