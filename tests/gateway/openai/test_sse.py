from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from gateway.openai.errors import invalid_request
from gateway.openai.sse import DONE_FRAME, frame, primed, sse_frames


async def items(*values: Any, error: Exception | None = None) -> AsyncIterator[Any]:
    for value in values:
        yield value
    if error is not None:
        raise error


async def collect(frames: AsyncIterator[bytes]) -> list[bytes]:
    return [f async for f in frames]


def test_frame_is_one_compact_data_line() -> None:
    assert frame({"a": "é\nb"}) == 'data: {"a":"é\\nb"}\n\n'.encode()


async def test_chunks_are_framed_and_end_with_done() -> None:
    frames = await collect(sse_frames(items({"n": 1}, {"n": 2})))

    assert frames == [b'data: {"n":1}\n\n', b'data: {"n":2}\n\n', DONE_FRAME]
    assert DONE_FRAME == b"data: [DONE]\n\n"


async def test_empty_stream_is_just_done() -> None:
    assert await collect(sse_frames(items())) == [DONE_FRAME]


async def test_openai_error_midway_is_a_last_error_frame_without_done() -> None:
    error = invalid_request("bad", "messages")

    frames = await collect(sse_frames(items({"n": 1}, error=error)))

    assert frames[0] == b'data: {"n":1}\n\n'
    assert json.loads(frames[1].removeprefix(b"data: ")) == error.body()
    assert len(frames) == 2


async def test_grpc_error_midway_is_mapped() -> None:
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "at 10.1.2.3"
    )

    frames = await collect(sse_frames(items(error=error)))

    body = json.loads(frames[0].removeprefix(b"data: "))
    assert body["error"]["code"] == "service_unavailable"
    assert "10.1.2.3" not in frames[0].decode()


async def test_unexpected_error_midway_hides_its_text() -> None:
    frames = await collect(sse_frames(items({"n": 1}, error=RuntimeError("secret sk-123"))))

    assert json.loads(frames[-1].removeprefix(b"data: "))["error"]["message"] == "internal error"
    assert b"sk-123" not in b"".join(frames)


async def test_cancellation_passes_through() -> None:
    async def hangs() -> AsyncIterator[dict[str, int]]:
        yield {"n": 1}
        await asyncio.Event().wait()
        yield {"n": 2}  # pragma: no cover

    frames = sse_frames(hangs())
    assert await anext(frames) == b'data: {"n":1}\n\n'
    pending = asyncio.ensure_future(anext(frames))
    await asyncio.sleep(0)
    pending.cancel()

    with pytest.raises(asyncio.CancelledError):
        await pending


async def test_primed_raises_a_failure_before_the_first_item() -> None:
    with pytest.raises(RuntimeError):
        await primed(items(error=RuntimeError("early")))


async def test_primed_yields_every_item_in_order() -> None:
    stream = await primed(items(1, 2, 3))

    assert [i async for i in stream] == [1, 2, 3]


async def test_primed_empty_stream_is_empty() -> None:
    stream = await primed(items())

    assert [i async for i in stream] == []
