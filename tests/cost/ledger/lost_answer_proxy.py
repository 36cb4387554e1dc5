"""A TCP proxy in front of PostgreSQL that can lose the answer to a COMMIT.

Armed (`lose_next_commit_answer`), it passes the client's next `COMMIT` (a simple-query
message, which is how asyncpg commits) to the server, waits for the server to finish it
(ReadyForQuery), and then closes the client's connection instead of passing the answer on: the
transaction is committed, and the client sees a dropped connection. Everything else is relayed
as is. The client must not ask for TLS (`ssl=disable`): the proxy reads the protocol.

PostgreSQL's wire format: the client's first message is untyped (length, then body); every
later message, both ways, is one type byte, then a length that counts itself but not the type.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

Message = tuple[bytes, bytes]
"""(type byte, whole message as sent)."""


async def _read_message(reader: asyncio.StreamReader) -> Message:
    header = await reader.readexactly(5)
    (length,) = struct.unpack("!i", header[1:])
    return header[:1], header + await reader.readexactly(length - 4)


class LostAnswerProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._armed = False
        self.lost_answers = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def lose_next_commit_answer(self) -> None:
        self._armed = True

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, client_in: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        server_in, server = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        swallow = asyncio.Event()  # set: the server's next answer ends the client's connection
        relays = [
            asyncio.create_task(self._client_to_server(client_in, server, swallow)),
            asyncio.create_task(self._server_to_client(server_in, client, swallow)),
        ]
        try:  # either side ending ends both, as a real connection would
            await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for relay in relays:
                relay.cancel()
            await asyncio.gather(*relays, return_exceptions=True)
            for stream in (client, server):
                stream.close()
                with contextlib.suppress(OSError):
                    await stream.wait_closed()

    async def _client_to_server(
        self, reader: asyncio.StreamReader, server: asyncio.StreamWriter, swallow: asyncio.Event
    ) -> None:
        (length,) = struct.unpack("!i", await reader.readexactly(4))  # the startup message
        server.write(struct.pack("!i", length) + await reader.readexactly(length - 4))
        async for kind, message in _messages(reader):
            if self._armed and kind == b"Q" and message[5:].lstrip().upper().startswith(b"COMMIT"):
                self._armed = False
                swallow.set()
            server.write(message)
            await server.drain()

    async def _server_to_client(
        self, reader: asyncio.StreamReader, client: asyncio.StreamWriter, swallow: asyncio.Event
    ) -> None:
        async for kind, message in _messages(reader):
            if swallow.is_set():
                if kind == b"Z":  # the COMMIT is done on the server: drop the client
                    self.lost_answers += 1
                    client.close()
                    return
                continue
            client.write(message)
            await client.drain()


async def _messages(reader: asyncio.StreamReader) -> AsyncIterator[Message]:
    while True:
        try:
            yield await _read_message(reader)
        except asyncio.IncompleteReadError:
            return
