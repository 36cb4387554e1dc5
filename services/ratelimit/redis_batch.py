"""Commands from concurrent calls, sent to Redis together: one pipeline per event-loop turn.

Each rate-limit decision is one or two Redis commands, and with redis-py most of a command's
cost is client-side bookkeeping per round trip (taking a pooled connection, timeouts, a write
and a read). Under load many decisions are waiting at once, so `RedisBatcher` collects the
commands submitted during one turn of the event loop and sends them as one non-transactional
pipeline: one connection, one write, one read of all replies. Each command stays atomic on its
own (a Lua script runs alone in Redis either way), so batching changes no decision; a lone call
still goes out at once, on the next turn of the loop.

Scripts are sent by SHA (`EVALSHA`); when Redis does not know one (after a restart or a
`SCRIPT FLUSH`) the batcher loads it and sends the affected commands again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

Command = tuple[Any, ...]


def script_sha(source: str) -> str:
    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Submission:
    __slots__ = ("commands", "future")

    def __init__(self, commands: Sequence[Command], future: asyncio.Future[list[Any]]) -> None:
        self.commands = commands
        self.future = future


class RedisBatcher:
    """Sends the commands of concurrent callers to `client` in shared pipelines."""

    def __init__(self, client: aioredis.Redis, scripts: Sequence[str] = ()) -> None:
        self._client = client
        self._scripts = {script_sha(source): source for source in scripts}
        self._pending: list[_Submission] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Run `commands` in order (not as a transaction) and return their replies.

        A command that Redis refused raises its error; a connection failure raises for every
        caller of the batch.
        """
        loop = asyncio.get_running_loop()
        submission = _Submission(commands, loop.create_future())
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append(submission)
        return await submission.future

    async def eval(self, source: str, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run one registered Lua script by its SHA."""
        [reply] = await self.execute([("EVALSHA", script_sha(source), len(keys), *keys, *args)])
        return reply

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._run(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _run(self, batch: list[_Submission]) -> None:
        try:
            replies = await self._send([c for s in batch for c in s.commands])
            replies = await self._retry_unknown_scripts(batch, replies)
        except asyncio.CancelledError:
            for submission in batch:
                submission.future.cancel()
            raise
        except Exception as exc:
            for submission in batch:
                if not submission.future.done():
                    submission.future.set_exception(exc)
            return
        offset = 0
        for submission in batch:
            mine = replies[offset : offset + len(submission.commands)]
            offset += len(submission.commands)
            _resolve(submission.future, mine)

    async def _send(self, commands: Sequence[Command]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    async def _retry_unknown_scripts(
        self, batch: list[_Submission], replies: list[Any]
    ) -> list[Any]:
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if not missing:
            return replies
        for source in self._scripts.values():
            await self._client.script_load(source)
        commands = [c for s in batch for c in s.commands]
        again = await self._send([commands[i] for i in missing])
        for index, reply in zip(missing, again, strict=True):
            replies[index] = reply
        return replies


def _resolve(future: asyncio.Future[list[Any]], replies: list[Any]) -> None:
    if future.done():  # the caller was cancelled; its commands ran all the same
        return
    error = next((r for r in replies if isinstance(r, RedisError)), None)
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(replies)
