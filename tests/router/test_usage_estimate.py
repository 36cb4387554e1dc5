"""The usage estimate used when a stream ends without the upstream's usage."""

from __future__ import annotations

from services.router.chat import (
    ChatRequest,
    Choice,
    Completion,
    FunctionCall,
    FunctionDefinition,
    Message,
    Tool,
    ToolCall,
    Usage,
)
from services.router.usage_estimate import estimate_usage


def test_about_four_characters_per_token_rounded_up_tools_and_calls_included() -> None:
    request = ChatRequest(
        model="m",
        messages=(Message("user", "x" * 9),),
        tools=(Tool(FunctionDefinition("f", parameters={"type": "object"})),),
    )
    call = ToolCall("c", FunctionCall("f", "{}"))
    answer = Completion(
        "c1", (Choice(0, Message("assistant", "y" * 5, tool_calls=(call,))),), Usage()
    )
    # 9 characters of prompt + 18 of schema JSON ({"type": "object"}) = 27 -> 7 tokens;
    # 5 characters of answer + 3 of the call ("f" and "{}") = 8 -> 2 tokens.
    assert estimate_usage(request, answer) == Usage(input_tokens=7, output_tokens=2)
