"""What a fake upstream answers: a pure function of the conversation, shared by both dialects.

Each dialect reduces its request to a `Question` (the last turn and what the model must do) and
renders the `Answer` in its own wire format. Token counts are words, so tests can predict them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

Finish = Literal["stop", "stop_sequence", "length", "tool"]


@dataclass(frozen=True)
class Question:
    last_text: str
    """The last user message, or the content of the tool results that end the conversation."""
    answers_tool: bool
    input_words: int
    forced_tool: str | None
    max_tokens: int | None
    stop: tuple[str, ...]


@dataclass(frozen=True)
class ToolUse:
    id: str
    name: str
    arguments: dict[str, str]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Answer:
    id: str
    text: str
    tool_use: ToolUse | None
    finish: Finish
    input_words: int
    output_words: int


def words(text: str) -> int:
    return len(text.split())


def answer(prefix: str, question: Question) -> Answer:
    digest = hashlib.sha256(f"{prefix}|{question}".encode()).hexdigest()
    if question.forced_tool is not None:
        use = ToolUse(f"call_{digest[:12]}", question.forced_tool, {"query": question.last_text})
        output = words(use.arguments_json)
        return Answer(f"{prefix}-{digest[:16]}", "", use, "tool", question.input_words, output)
    lead = "saw tool result:" if question.answers_tool else "answer to:"
    text = f"{prefix} {lead} {question.last_text}"
    finish: Finish = "stop"
    for stop in question.stop:
        if stop and stop in text:
            text, finish = text[: text.index(stop)], "stop_sequence"
    if question.max_tokens is not None and words(text) > question.max_tokens:
        text, finish = " ".join(text.split()[: question.max_tokens]), "length"
    return Answer(f"{prefix}-{digest[:16]}", text, None, finish, question.input_words, words(text))


def text_pieces(text: str) -> list[str]:
    """The answer's text as a stream sends it: one word a piece, spaces kept."""
    parts = text.split(" ")
    return [part if i == 0 else f" {part}" for i, part in enumerate(parts)]
