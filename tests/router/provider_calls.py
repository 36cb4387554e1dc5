"""Helpers for provider tests: build an `UpstreamCall` to a fake upstream, drain a stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

from services.router.catalogue import Deployment, ProviderKind
from services.router.chat import ChatRequest, Message, StreamChunk, Usage
from services.router.providers.base import UpstreamCall

API_KEY = "sk-test-0123456789abcdef"


def question(text: str = "What is the capital of France?") -> ChatRequest:
    return ChatRequest(model="public-model", messages=(Message("user", text),))


def upstream_call(
    request: ChatRequest,
    base_url: str,
    *,
    kind: ProviderKind = "openai",
    api_key: str | None = API_KEY,
    timeout_seconds: float = 10.0,
    upstream_model: str = "upstream-model",
    name: str = "test-deployment",
) -> UpstreamCall:
    deployment = Deployment(
        name=name, provider=kind, upstream_model=upstream_model, base_url=base_url
    )
    return UpstreamCall(request, deployment, api_key, timeout_seconds)


async def drain(chunks: AsyncIterator[StreamChunk]) -> list[StreamChunk]:
    return [chunk async for chunk in chunks]


def joined_content(chunks: list[StreamChunk]) -> str:
    return "".join(delta.delta.content for chunk in chunks for delta in chunk.choices)


def joined_arguments(chunks: list[StreamChunk]) -> dict[int, tuple[str, str, str]]:
    """Tool calls rebuilt from stream pieces: index -> (id, name, arguments)."""
    calls: dict[int, tuple[str, str, str]] = {}
    for chunk in chunks:
        for delta in chunk.choices:
            for call in delta.delta.tool_calls:
                old_id, old_name, old_args = calls.get(call.index, ("", "", ""))
                calls[call.index] = (
                    old_id or call.id,
                    old_name or call.function.name,
                    old_args + call.function.arguments,
                )
    return calls


def final_usage(chunks: list[StreamChunk]) -> Usage | None:
    return chunks[-1].usage if chunks else None
