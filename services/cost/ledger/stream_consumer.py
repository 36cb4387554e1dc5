"""The router's usage stream, read into the ledger with a Redis consumer group.

Every cost replica joins the consumer group `cost-ledger` on the stream (created with
MKSTREAM if missing; an existing group is fine) and reads entries with XREADGROUP, a batch at a
time. An entry is acknowledged (XACK) only after the ledger writer committed it, so an entry
whose write failed, or whose replica died, stays pending in the group:

- a failed write (the database is down) pauses consumption: the consumer backs off
  (exponentially, jittered) and then re-reads its own pending entries (XREADGROUP from id 0)
  before any new one, until they are written;
- every `claim_every` seconds the consumer takes over entries another consumer left pending
  for longer than `claim_idle_ms` (XAUTOCLAIM): a replica that died mid-batch loses nothing.

Delivery is thus at least once, and the ledger's request-id key makes it exactly once: an entry
written but not acknowledged (a crash between commit and XACK) is recorded as a duplicate when
it comes back. An entry that cannot be parsed, or that the ledger cannot hold, is logged,
counted (`cost_stream_malformed_total`), copied to `{stream}:dead` with the reason, and
acknowledged, so it never blocks the group. What the ledger cannot hold is refused before the
write where it can be (`check_storable`, `check_ledger_range`); otherwise the write finds it: a
batch refused because of its data (a value out of range) is halved, and halved again, until
the entries refused on their own are known, and only those are dead-lettered (the others are
written; any already written come back as duplicates). Any other failure, known to be
transient or not (a database refusing connections, a missing table), leaves the batch
pending: it is no entry's fault. Use a Redis client whose socket timeout is longer than
`block_ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter
from redis.exceptions import ResponseError
from sqlalchemy import exc as sa_exc

from services.cost.ledger.rows import UnstorableUsage, check_storable
from services.cost.ledger.stream_format import MalformedEntry, parse_entry
from services.cost.ledger.writer import RecordOutcome
from services.cost.usage import UsageRecord
from services.cost.usage_validation import check_ledger_range
from svckit.errors import InvalidArgument

log = logging.getLogger(__name__)

Entry = tuple[Any, Any]
"""(id, fields) as redis-py returns them."""
DATA_SQLSTATE_CLASSES = frozenset({"22", "23"})
"""Data exception (a sum out of range, say) and integrity constraint violation."""


class _Read(NamedTuple):
    """An entry read into an event; its fields are kept for the dead letter."""

    entry_id: Any
    fields: Any
    record: UsageRecord


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    stream: str = "sb:router:usage"
    group: str = "cost-ledger"
    consumer: str = field(default_factory=_default_consumer)
    """Unique per replica; a stable name (the pod's) lets a restarted replica resume its own
    pending entries at once instead of waiting for the claim."""
    batch: int = 1000
    block_ms: int = 1000
    claim_idle_ms: int = 60_000
    """Idle time after which another consumer's pending entry is taken over: well above the
    time a batch takes to commit, so a live consumer's entries are rarely claimed."""
    claim_every: float = 15.0
    backoff_initial: float = 0.1
    backoff_max: float = 10.0
    dead_letter_maxlen: int = 100_000

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.stream}:dead"


class UsageRecorder(Protocol):
    async def record(self, records: Sequence[UsageRecord]) -> list[RecordOutcome]: ...


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.entries = Counter(
            "cost_stream_entries_total",
            "Usage stream entries written to the ledger and acknowledged.",
            registry=registry,
        )
        self.malformed = Counter(
            "cost_stream_malformed_total",
            "Usage stream entries that could not be read: dead-lettered and acknowledged.",
            registry=registry,
        )
        self.claimed = Counter(
            "cost_stream_claimed_total",
            "Pending entries taken over from consumers idle too long.",
            registry=registry,
        )
        self.failures = Counter(
            "cost_stream_failures_total",
            "Failed reads or ledger writes (entries left pending, retried after a back-off).",
            registry=registry,
        )


class UsageStreamConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        recorder: UsageRecorder,
        settings: ConsumerSettings,
        metrics: StreamMetrics,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._redis = redis
        self._recorder = recorder
        self.settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rng = rng or random.Random()
        self._group_ready = False
        self._recovering = True
        """Read our own pending entries (id 0) before new ones: at start, after a failure."""
        self._stopped = asyncio.Event()

    async def ensure_group(self) -> None:
        s = self.settings
        try:
            await self._redis.xgroup_create(s.stream, s.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def poll(self) -> int:
        """Reads one batch (own pending entries first), writes it, acknowledges it; the number
        of entries handled. Raises when the write fails: the entries stay pending."""
        if not self._group_ready:
            await self.ensure_group()
        entries = await self._read("0" if self._recovering else ">")
        if self._recovering and not entries:
            self._recovering = False
            entries = await self._read(">")
        try:
            return await self._handle(entries)
        except Exception:
            self._recovering = True  # these entries are pending: retry them before new ones
            raise

    async def _read(self, start: str) -> list[Entry]:
        """Own pending entries (start "0", no blocking) or new ones (">", blocking a while)."""
        s = self.settings
        block = None if start == "0" else s.block_ms
        try:
            reply = await self._redis.xreadgroup(
                s.group, s.consumer, {s.stream: start}, count=s.batch, block=block
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream or group was deleted under us
                self._group_ready = False
            raise
        return _entries(reply)

    async def claim(self) -> int:
        """Takes over and handles entries other consumers left pending too long."""
        if not self._group_ready:
            await self.ensure_group()
        s = self.settings
        cursor: Any = "0-0"
        handled = 0
        while True:
            reply = await self._redis.xautoclaim(
                s.stream, s.group, s.consumer, s.claim_idle_ms, start_id=cursor, count=s.batch
            )
            cursor, entries = reply[0], reply[1]
            self._metrics.claimed.inc(len(entries))
            handled += await self._handle(entries)
            if _text(cursor) == "0-0":
                return handled

    async def run(self) -> None:
        """Consumes until `stop()`; failures pause it with a growing, jittered back-off."""
        s = self.settings
        delay = s.backoff_initial
        next_claim = self._clock()
        while not self._stopped.is_set():
            try:
                if self._clock() >= next_claim:
                    next_claim = self._clock() + s.claim_every
                    await self.claim()
                await self.poll()
                delay = s.backoff_initial
            except Exception as exc:
                self._metrics.failures.inc()
                log.warning("usage stream paused for %.2fs: %s", delay, type(exc).__name__)
                await self._pause(delay * (0.5 + self._rng.random()))
                delay = min(delay * 2, s.backoff_max)

    def stop(self) -> None:
        self._stopped.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopped.wait()

    async def _handle(self, entries: Sequence[Entry]) -> int:
        batch: list[_Read] = []
        for entry_id, fields in entries:
            try:
                batch.append(_Read(entry_id, fields or {}, _usage(fields or {})))
            except (MalformedEntry, UnstorableUsage, InvalidArgument) as exc:
                await self._dead_letter(entry_id, fields or {}, str(exc))
        if batch:
            await self._write(batch)
        return len(entries)

    async def _write(self, batch: Sequence[_Read]) -> None:
        """Writes and acknowledges `batch`; a failure not of its data leaves it pending (raised)."""
        try:
            await self._recorder.record([read.record for read in batch])
        except Exception as exc:
            if not _data_at_fault(exc):
                raise
            await self._isolate(batch, exc)
            return
        await self._redis.xack(
            self.settings.stream, self.settings.group, *(read.entry_id for read in batch)
        )
        self._metrics.entries.inc(len(batch))

    async def _isolate(self, batch: Sequence[_Read], exc: Exception) -> None:
        """Halves a refused batch until the entries refused alone are found: a few writes for
        one bad entry among a thousand, rather than a thousand."""
        if len(batch) == 1:
            reason = f"the ledger refused it: {type(exc).__name__}: {exc}"
            await self._dead_letter(batch[0].entry_id, batch[0].fields, reason)
            return
        log.warning(
            "usage stream batch of %d refused (%s); isolating the entries at fault",
            len(batch),
            type(exc).__name__,
        )
        middle = len(batch) // 2
        await self._write(batch[:middle])
        await self._write(batch[middle:])

    async def _dead_letter(self, entry_id: Any, fields: Any, reason: str) -> None:
        """Keeps the entry in `{stream}:dead` with why, and acknowledges it, atomically."""
        s = self.settings
        log.warning("usage stream entry %s dead-lettered: %s", _text(entry_id), reason)
        self._metrics.malformed.inc()
        dead = {**fields, "dead_reason": reason[:500], "dead_id": entry_id}
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(s.dead_letter_stream, dead, maxlen=s.dead_letter_maxlen, approximate=True)
            pipe.xack(s.stream, s.group, entry_id)
            await pipe.execute()


def _usage(fields: Any) -> UsageRecord:
    """The entry's event, if the ledger can hold it (else the error says why)."""
    record = parse_entry(fields)
    check_storable(record)
    check_ledger_range(record)
    return record


def _data_at_fault(exc: Exception) -> bool:
    """Whether a write failed on the values it was given, so that an entry refused alone
    would be refused forever. Not a failure to reach or use the database: the writer's
    `is_transient` does not know every such error (a database refusing connections), and
    mistaking one for bad data would dead-letter every entry read meanwhile."""
    if isinstance(exc, sa_exc.DataError | sa_exc.IntegrityError):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        return _sqlstate_class(exc.orig) in DATA_SQLSTATE_CLASSES
    if _sqlstate_class(exc) in DATA_SQLSTATE_CLASSES:  # the driver's own (the COPY)
        return True
    # Raised in Python by pricing, budget periods or the driver's encoding of a value.
    return isinstance(exc, ValueError | ArithmeticError)


def _sqlstate_class(exc: object) -> str:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return str(code or "")[:2]


def _entries(reply: Any) -> list[Entry]:
    """The entries from XREADGROUP's reply of one stream (RESP2: [[stream, entries]])."""
    return [(entry_id, fields) for _stream, entries in reply or [] for entry_id, fields in entries]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
