"""A Kubernetes Service's virtual IP on loopback: a TCP balancer in front of a workload's replicas.

kube-proxy balances connections, not requests: each new connection goes to one ready endpoint
and stays there. This does the same, in turn over the backends, and counts the connections each
one got, so a test can tell that both replicas served. It runs its own event loop in a thread,
so it serves whatever loop (or none) the test's clients use.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Sequence

from tests.ports import free_port

CHUNK = 64 * 1024
STOP_TIMEOUT = 10.0


class RoundRobinBalancer:
    """Listens on 127.0.0.1:`port`; connection n goes to backends[n % len(backends)]."""

    def __init__(self, backends: Sequence[int]) -> None:
        self.port = free_port()
        self._backends = list(backends)
        self._turn = itertools.cycle(range(len(self._backends)))
        self.connections: Counter[int] = Counter()
        """Backend port to the number of connections it was given."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="balancer", daemon=True)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(STOP_TIMEOUT)

    def close(self) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(STOP_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT)
        self._loop.close()

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        backend = self._backends[next(self._turn)]
        self.connections[backend] += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend)
        except OSError:  # as a Service whose endpoint went away: the connection is dropped
            writer.close()
            self._pipes.discard(task)
            return
        try:
            await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
        finally:
            writer.close()
            up_writer.close()
            self._pipes.discard(task)


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Bytes from one side to the other until end of file, then half-close that side; a reset
    on one side closes the other (whose reader then ends too)."""
    try:
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except OSError:
        sink.close()


__all__ = ["RoundRobinBalancer"]
