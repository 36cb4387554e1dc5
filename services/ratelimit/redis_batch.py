"""Commands from concurrent calls, sent to Redis together in one write.

Each rate-limit decision is one or two Redis commands, and with redis-py most of a command's
cost is client-side bookkeeping per round trip (taking a pooled connection, timeouts, a write
and a read). `RedisBatcher` keeps at most `max_in_flight` batches on the way to Redis (one by
default: measured best here, with no loss of latency at moderate load); the commands submitted
meanwhile wait and leave together in the next one: one connection, one write, one read of all
replies. There is no timer: a lone call goes out on the next turn of
the event loop, and under load each batch holds what arrived during the previous round trip,
so batches grow with the load. Each command stays atomic on its own (a Lua script runs alone
in Redis either way), so batching changes no decision.

The hot path is lean on purpose (it runs for every decision): a command is packed once, in C
(`hiredis.pack_command`), when it is submitted; a batch is one write and one timeout
(the client's `socket_timeout`) for the whole round trip, and its replies are taken from the
connection's own hiredis reader without a coroutine or a timeout per reply (`_Wire`).

Scripts are sent by SHA (`EVALSHA`); when Redis does not know one (after a restart or a
`SCRIPT FLUSH`) the batcher loads it and sends the affected commands again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Command = tuple[Any, ...]


def script_sha(source: str) -> str:
    return hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


class _Submission:
    """One caller's commands, packed; `single` callers get their one reply, not a list."""

    __slots__ = ("future", "packed", "single")

    def __init__(self, packed: list[bytes], future: asyncio.Future[Any], single: bool) -> None:
        self.packed = packed
        self.future = future
        self.single = single


class RedisBatcher:
    """Sends the commands of concurrent callers to `client` in shared pipelines."""

    def __init__(
        self, client: aioredis.Redis, scripts: Sequence[str] = (), *, max_in_flight: int = 1
    ) -> None:
        self._client = client
        self._scripts = {script_sha(source): source for source in scripts}
        self._shas = {source: sha for sha, source in self._scripts.items()}
        self._max_in_flight = max_in_flight
        self._pending: list[_Submission] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()
        self._idle: list[_Wire] = []

    def execute(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Run `commands` in order (not as a transaction); await the result for their replies.

        A command that Redis refused raises its error; a connection failure raises for every
        caller of the batch. (A plain function returning the future: one coroutine less per
        call.)
        """
        return self._submit([hiredis.pack_command(command) for command in commands], False)

    def eval(self, source: str, keys: Sequence[Any], args: Sequence[Any]) -> asyncio.Future[Any]:
        """Run one registered Lua script by its SHA; await the result for its reply."""
        sha = self._shas.get(source) or script_sha(source)
        return self._submit([hiredis.pack_command(("EVALSHA", sha, len(keys), *keys, *args))], True)

    def _submit(self, packed: list[bytes], single: bool) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Submission(packed, future, single))
        if not self._flush_scheduled and len(self._in_flight) < self._max_in_flight:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._run(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._pending and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _run(self, batch: list[_Submission]) -> None:
        try:
            packed = [command for submission in batch for command in submission.packed]
            replies = await self._retry_unknown_scripts(packed, await self._send(packed))
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
            count = len(submission.packed)
            _resolve(submission, replies[offset : offset + count])
            offset += count

    async def _send(self, commands: Sequence[bytes]) -> list[Any]:
        """One write, then one reply per command; a refused command's error is its reply.

        Each in-flight batch keeps a connection of the client's pool for itself, so a batch
        costs no pool bookkeeping; closing the client's pool closes these too. A connection
        that failed is dropped (disconnected) and opened again by the next batch.
        """
        wire = self._idle.pop() if self._idle else _Wire(await self._connection())
        try:
            async with asyncio.timeout(wire.timeout):
                return await wire.round_trip(b"".join(commands), len(commands))
        except TimeoutError:
            await wire.drop()
            raise RedisTimeoutError("Timeout waiting for Redis to answer a batch") from None
        except OSError as exc:
            await wire.drop()
            raise RedisConnectionError(f"Error talking to Redis: {exc}") from exc
        except BaseException:
            await wire.drop()
            raise
        finally:
            self._idle.append(wire)

    async def _connection(self) -> Any:
        return await self._client.connection_pool.get_connection()  # type: ignore[no-untyped-call]

    async def _retry_unknown_scripts(self, packed: list[bytes], replies: list[Any]) -> list[Any]:
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if not missing:
            return replies
        for source in self._scripts.values():
            await self._client.script_load(source)
        again = await self._send([packed[i] for i in missing])
        for index, reply in zip(missing, again, strict=True):
            replies[index] = reply
        return replies


class _Wire:
    """A connection of redis-py's pool, driven directly for batches.

    redis-py connects it (address, TLS, AUTH, SELECT, protocol) and parses replies with its
    hiredis reader, which turns a refused command into an exception object as the reply;
    this class only skips the per-command bookkeeping (a task for the write timeout, a timeout
    context and a coroutine per reply). Without hiredis it falls back to redis-py's reads.
    """

    __slots__ = ("_connection",)

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    @property
    def timeout(self) -> float | None:
        timeout: float | None = self._connection.socket_timeout
        return timeout

    async def round_trip(self, payload: bytes, count: int) -> list[Any]:
        connection = self._connection
        if not connection.is_connected:
            await connection.connect()
        connection._writer.write(payload)
        await connection._writer.drain()
        parser = connection._parser
        reader = getattr(parser, "_reader", None)
        if not hasattr(reader, "gets"):
            return await self._read_each(count)
        replies: list[Any] = []
        while len(replies) < count:
            reply = reader.gets()  # type: ignore[union-attr]
            if reply is _NOT_ENOUGH_DATA:
                await parser.read_from_socket()
            elif isinstance(reply, RedisConnectionError):
                raise reply
            else:
                replies.append(reply)
        return replies

    async def _read_each(self, count: int) -> list[Any]:
        replies: list[Any] = []
        for _ in range(count):
            try:
                replies.append(await self._connection.read_response())
            except ResponseError as refused:
                replies.append(refused)
        return replies

    async def drop(self) -> None:
        await self._connection.disconnect()


def _not_enough_data() -> object:
    """The sentinel redis-py's hiredis reader returns while a reply is incomplete."""
    try:
        from redis._parsers.hiredis import NOT_ENOUGH_DATA
    except ImportError:  # pragma: no cover - another redis-py layout: never matches a reply
        return object()
    return NOT_ENOUGH_DATA


_NOT_ENOUGH_DATA = _not_enough_data()


def _resolve(submission: _Submission, replies: list[Any]) -> None:
    future = submission.future
    if future.done():  # the caller was cancelled; its commands ran all the same
        return
    error = next((r for r in replies if isinstance(r, RedisError)), None)
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(replies[0] if submission.single else replies)
