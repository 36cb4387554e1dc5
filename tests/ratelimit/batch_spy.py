"""Counts the writes a RedisBatcher makes, to test what is batched with what."""

from __future__ import annotations

from typing import Any

from services.ratelimit.redis_batch import RedisBatcher


def count_writes(batcher: RedisBatcher) -> list[int]:
    """Counts the batches the batcher writes to Redis (each is one write of many commands)."""
    sent: list[int] = []
    original = batcher._send

    async def send(commands: Any) -> list[Any]:
        sent.append(len(commands))
        return await original(commands)

    batcher._send = send  # type: ignore[method-assign]
    return sent
