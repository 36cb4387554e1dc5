"""A cached client of the prompt registry, for internal services.

    async with PromptClient(channel, ttl_seconds=60) as prompts:
        found = await prompts.get("support/triage")                 # label production
        rendered = await prompts.render("support/triage", variables={"ticket": text})

Reads go through an in-process cache; rendering is local (`rendering.render`, the code the
RenderPrompt RPC runs), so a warm read costs no RPC at all.

- A version read by number is immutable: it stays cached (up to `max_entries`, least recently
  used first out) until a change of its prompt drops it (its `labels` and `tags` are views).
- A read by label is fresh for `ttl_seconds`. After that it is stale: the stale version is
  returned at once and one background refresh per key fetches the current one
  (stale-while-revalidate). A refresh that finds the prompt or label gone (NOT_FOUND) drops the
  entry, so the next read fails as it should (Langfuse kept serving a deleted label, #10138);
  any other failure keeps serving the stale version and tries again on the next read.
- Concurrent misses of one key make one RPC.
- Invalidation: a background task follows WatchPromptChanges. Any change of a prompt (a label
  moved or deleted, `latest` moved by a new version, tags changed) drops every entry of that
  prompt at once, so with the stream up a change is visible to the next read as soon as it
  reaches the server this client is connected to (at once for a write through that replica,
  within `PROMPTS_CHANGE_POLL_SECONDS` for one through another, since the change log is shared).
  A fetch that was in flight when a change of its prompt arrived is returned to its callers
  but not cached, so an answer older than the change cannot outlive it. When the stream breaks
  the client reconnects (every `reconnect_seconds`) and resumes after the last sequence it saw:
  missed changes are replayed; if the server no longer has them (`reset`), or on the first
  connection, everything cached is dropped. While the stream is down, staleness is bounded by
  the TTL alone.

Errors: NOT_FOUND and INVALID_ARGUMENT from the registry become `svckit.errors.NotFound` and
`InvalidArgument` (reason, metadata and field violations kept), anything else `Unavailable`,
so a service using the client can let its own error interceptor report them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from switchboard.prompts.v1 import prompts_service_pb2 as pb
from switchboard.prompts.v1 import prompts_service_pb2_grpc as pb_grpc

from services.prompts.convert import version_from_message
from services.prompts.model import PRODUCTION, Found
from services.prompts.rendering import Message, Rendered, render
from svckit.errors import FieldViolation, InvalidArgument, NotFound, ServiceError, Unavailable

log = logging.getLogger(__name__)

Key = tuple[str, str, str | int]
"""("label", name, label) or ("version", name, number): never confused (Langfuse #14852)."""


@dataclass
class ClientStats:
    hits: int = 0
    misses: int = 0
    stale: int = 0
    refreshes: int = 0
    refresh_failures: int = 0
    invalidations: int = 0


@dataclass
class _Entry:
    found: Found
    expires: float


class PromptClient:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        ttl_seconds: float = 60.0,
        max_entries: int = 10_000,
        watch: bool = True,
        name_prefix: str = "",
        timeout_seconds: float = 5.0,
        reconnect_seconds: float = 1.0,
        max_render_bytes: int = 1_048_576,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.stats = ClientStats()
        self._stub = pb_grpc.PromptServiceStub(channel)
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._watching = watch
        self._prefix = name_prefix
        self._timeout = timeout_seconds
        self._reconnect = reconnect_seconds
        self._max_render_bytes = max_render_bytes
        self._clock = clock
        self._sleep = sleep
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._inflight: dict[Key, asyncio.Task[Found]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._sequence = 0
        self._synced = asyncio.Event()
        self._connections = 0
        self._progress = asyncio.Condition()
        self._watch_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PromptClient:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start following the change stream (when `watch`)."""
        if self._watching and self._watch_task is None:
            self._watch_task = asyncio.create_task(self._watch())

    async def wait_synced(self, connections: int = 1) -> None:
        """Until the change stream has gone live `connections` times since the start (so a
        test or a caller knows invalidations flow again after a reconnection)."""
        async with self._progress:
            await self._progress.wait_for(lambda: self._connections >= connections)

    async def wait_changes(self, count: int) -> None:
        """Until the stream has delivered `count` changes since the start."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.stats.invalidations >= count)

    async def drain(self) -> None:
        """Wait for the background refreshes in flight."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    @property
    def connections(self) -> int:
        """How many times the change stream went live."""
        return self._connections

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def aclose(self) -> None:
        tasks: list[asyncio.Task[Any]] = [*self._background, *self._inflight.values()]
        if self._watch_task is not None:
            tasks.append(self._watch_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._watch_task = None

    async def get(self, name: str, *, label: str = "", version: int = 0) -> Found:
        """The version by number, or by label (`production` when neither is given)."""
        key = _key(name, label, version)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            if self._clock() < entry.expires:
                self.stats.hits += 1
            else:
                self.stats.stale += 1
                self._refresh(key)
            return entry.found
        self.stats.misses += 1
        return await self._fetch(key)

    async def render(
        self,
        name: str,
        *,
        label: str = "",
        version: int = 0,
        variables: Mapping[str, Any] | None = None,
        placeholders: Mapping[str, Sequence[Message]] | None = None,
    ) -> Rendered:
        """Render locally; errors as RenderPrompt's (InvalidArgument naming what is missing)."""
        found = await self.get(name, label=label, version=version)
        return render(
            found.version, variables or {}, placeholders, max_bytes=self._max_render_bytes
        )

    def invalidate(self, name: str | None = None) -> None:
        """Drop what is cached of `name`, or everything."""
        if name is None:
            self._epoch += 1
            self._entries.clear()
            return
        self._generations[name] = self._generations.get(name, 0) + 1
        for key in [k for k in self._entries if k[1] == name]:
            del self._entries[key]

    def _fetch(self, key: Key) -> asyncio.Future[Found]:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settled(key, done))
        return asyncio.shield(task)

    def _settled(self, key: Key, task: asyncio.Task[Found]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved: its callers may all have gone

    async def _load(self, key: Key) -> Found:
        kind, name, which = key
        generation = (self._epoch, self._generations.get(name, 0))
        request = pb.GetPromptRequest(name=name)
        if kind == "version":
            request.version = int(which)
        else:
            request.label = str(which)
        try:
            reply = await self._stub.GetPrompt(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise service_error(exc) from None
        found = Found(version_from_message(reply.version), reply.label)
        if generation == (self._epoch, self._generations.get(name, 0)):
            expires = math.inf if kind == "version" else self._clock() + self._ttl
            self._store(key, _Entry(found, expires))
        return found

    def _store(self, key: Key, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def _refresh(self, key: Key) -> None:
        if key in self._inflight:
            return
        self.stats.refreshes += 1
        task = asyncio.create_task(self._refresh_now(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _refresh_now(self, key: Key) -> None:
        try:
            await self._fetch(key)
        except NotFound:
            self._entries.pop(key, None)
        except ServiceError as exc:
            self.stats.refresh_failures += 1
            log.warning("refreshing prompt %s failed: %s", key[1], exc.message)

    async def _watch(self) -> None:
        while True:
            try:
                await self._follow()
            except grpc.aio.AioRpcError as exc:
                log.info("prompt change stream ended: %s", exc.code().name)
            except Exception:  # never stop following: a dead watcher would leave stale entries
                log.exception("following prompt changes failed")
            self._synced.clear()
            await self._sleep(self._reconnect)

    async def _follow(self) -> None:
        request = pb.WatchPromptChangesRequest(
            name_prefix=self._prefix, after_sequence=self._sequence
        )
        first = True
        async for response in self._stub.WatchPromptChanges(request):
            if first and (response.reset or request.after_sequence == 0):
                # What was cached before the stream was live may have missed a change.
                self.invalidate()
            for change in response.changes:
                self.stats.invalidations += 1
                self.invalidate(change.name)
            self._sequence = max(self._sequence, response.sequence)
            if first:
                first = False
                self._synced.set()
                self._connections += 1
            async with self._progress:
                self._progress.notify_all()


def _key(name: str, label: str, version: int) -> Key:
    if version:
        return ("version", name, version)
    return ("label", name, label or PRODUCTION)


def service_error(exc: grpc.aio.AioRpcError) -> ServiceError:
    """The registry's status as the error vocabulary of `svckit.errors`."""
    reason, metadata, violations = "", {}, []
    status = rpc_status.from_call(exc)
    for detail in status.details if status is not None else ():
        info, bad = error_details_pb2.ErrorInfo(), error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(bad):
            violations = [FieldViolation(v.field, v.description) for v in bad.field_violations]
    message = exc.details() or exc.code().name
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return NotFound(message, reason=reason or None, metadata=metadata)
    if exc.code() == grpc.StatusCode.INVALID_ARGUMENT and violations:
        return InvalidArgument(violations, message=message, reason=reason or None)
    return Unavailable(f"prompt registry: {exc.code().name}", reason="PROMPT_REGISTRY_UNAVAILABLE")


__all__ = ["ClientStats", "PromptClient", "service_error"]
