"""A stream's rate-limit reservation is settled however the stream ends, through the whole
pipeline over real HTTP: here, when the client leaves before the usage arrives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.gateway.pipeline.stack import Stack, running_stack

WORST_CASE = 50_000
"""The stream's max_tokens: what its reservation counts until it is settled."""
TOKENS_PER_MINUTE = 200_000
"""The `pro` tier's tokens per minute (tests/gateway/pipeline/stack.py)."""


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


async def test_a_stream_the_client_leaves_settles_what_was_used_not_its_worst_case(
    stack: Stack,
) -> None:
    stack.upstream.hold_stream_after = 2  # the upstream stalls mid-answer, usage never comes
    url = f"{stack.base_url}/chat/completions"
    body = {
        "model": "fake-gpt",
        "messages": [{"role": "user", "content": "a long answer, please"}],
        "max_tokens": WORST_CASE,
        "stream": True,
    }
    async with httpx.AsyncClient(headers=stack.auth("acme")) as http:
        async with http.stream("POST", url, json=body) as answer:
            assert answer.status_code == 200
            async for line in answer.aiter_lines():
                if line.startswith("data: "):
                    break  # the client goes away after its first chunk
        await stack.upstream.wait_for_disconnects(1)
        assert stack.gateway.pipeline is not None
        await stack.gateway.pipeline.drain()

        probe = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
        after = await http.post(url, json={**probe, "max_tokens": 10})

    remaining = int(after.headers["x-ratelimit-remaining-tokens"])
    # Settled by estimate (the prompt and what was streamed: a few dozen tokens), the left
    # stream no longer holds its worst case; the probe's own reservation is under 100.
    assert TOKENS_PER_MINUTE - remaining < 1_000
