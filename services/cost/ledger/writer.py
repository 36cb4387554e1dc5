"""The ledger writer: usage events in, each recorded exactly once, in batched transactions.

Callers (the `RecordUsage` RPC, the stream consumer) call `record(records)` and await their own
outcomes; meanwhile the writer gathers concurrent callers' events into one batch (up to
`max_batch` events, waiting at most `max_delay` seconds for more), so spend writes cost one
transaction per batch rather than per request, and nobody's response waits on a commit of its
own. Each batch, in one transaction:

1. duplicates within the batch are dropped (the first occurrence wins);
2. every event is priced (`batch_pricing`: a few Pricer lookups per batch);
3. `INSERT ... ON CONFLICT (request_id) DO NOTHING RETURNING` adds the events the ledger does
   not have yet; the primary key, not this process, decides;
4. the aggregates and every hook's `in_transaction` see only those new events. On PostgreSQL
   steps 3 and 4's aggregates are one COPY and one statement (`postgres_write`); on SQLite an
   executemany (`rows`) and the upserts summed in Python (`aggregates`);
5. commit, then every hook's `after_commit` (whose failure is logged, never the caller's).

Rows go in request-id order and aggregate rows in key order, so concurrent writers (other
batches, other replicas) lock in the same order. A transaction that fails for a transient
reason (deadlock, serialization failure, lost connection, locked SQLite file) is retried from
the start; nothing is half-written, because it all is one transaction. When a batch of several
callers fails for any other reason (a hook refusing an event, say), each caller's events are
retried alone, so one caller's failure is not the others'.

An outcome's `cost` is the cost recorded now: None for an unpriced event and for a duplicate,
which recorded nothing. A commit can succeed with its acknowledgement lost (the connection drops
after the database committed): the retry then finds those events already there. The writer
looks them up (`unanswered`), and the ones stamped with the failed attempt's `recorded_at` were
committed by that attempt: they count as recorded by this batch, and the hooks' `after_commit`
runs for them (the budgets' reservations are settled, their alerts delivered), as if the answer
had arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.cost.ledger import aggregates
from services.cost.ledger.batch_pricing import price_batch
from services.cost.ledger.postgres_write import write_batch
from services.cost.ledger.rows import (
    COLUMNS,
    LedgerRow,
    check_storable,
    insert_new,
    ledger_values,
)
from services.cost.ledger.unanswered import Attempt, committed_unanswered
from services.cost.ledger_hooks import LedgerHook, PricedUsage, Pricer
from services.cost.money import Money
from services.cost.usage import UsageRecord

log = logging.getLogger(__name__)

TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
"""Serialization failure, deadlock, lock not available, and the server shutting down."""
MAX_PROVIDER_LABELS = 64
"""Distinct `provider` label values before the rest count as "other" (bounded cardinality)."""


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    request_id: str
    recorded: bool
    """False: the ledger already had this request id (or the batch had it earlier)."""
    cost: Money | None
    """The cost recorded now; None when no price was known, or for a duplicate."""


class LedgerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.recorded = Counter(
            "cost_events_recorded_total", "Usage events added to the ledger.", registry=registry
        )
        self.duplicates = Counter(
            "cost_events_duplicate_total",
            "Usage events whose request id the ledger already had (nothing counted).",
            registry=registry,
        )
        self.unpriced = Counter(
            "cost_unpriced_events_total",
            "Usage events recorded without a known price (cost unknown).",
            ("provider",),
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "cost_ledger_batch_seconds",
            "Time to price, write and commit one batch, retries included.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.retries = Counter(
            "cost_ledger_retries_total",
            "Batch transactions retried after a transient failure.",
            registry=registry,
        )
        self._providers: set[str] = set()

    def count_unpriced(self, provider: str) -> None:
        label = provider or "none"
        if label not in self._providers and len(self._providers) >= MAX_PROVIDER_LABELS:
            label = "other"
        self._providers.add(label)
        self.unpriced.labels(label).inc()


@dataclass(eq=False)
class _Chunk:
    """One caller's events (at most a batch), and where its outcomes go."""

    records: Sequence[UsageRecord]
    future: asyncio.Future[list[RecordOutcome]]
    enqueued: float = field(default=0.0)


def is_transient(exc: BaseException) -> bool:
    """Whether trying the same transaction again may succeed."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return _transient_code(code)
    if _transient_code(getattr(exc, "sqlstate", None)):  # the driver's own (the COPY)
        return True
    return isinstance(exc, OSError | TimeoutError | ConnectionError)


def _transient_code(code: object) -> bool:
    return code in TRANSIENT_SQLSTATES or str(code or "").startswith("08")


def _request_id(priced: PricedUsage) -> str:
    return priced.record.request_id


class LedgerWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        pricer: Pricer,
        hooks: Sequence[LedgerHook],
        metrics: LedgerMetrics,
        clock: Callable[[], float] = time.time,
        max_batch: int = 1000,
        max_delay: float = 0.005,
        *,
        concurrency: int | None = None,
        default_currency: str = "USD",
        retry_delays: Sequence[float] = (0.02, 0.1, 0.5),
        rng: random.Random | None = None,
    ) -> None:
        """`concurrency`: batches in flight at once (default 2 on PostgreSQL, so one is built
        while another commits; 1 on SQLite, which has one writer anyway). `default_currency`:
        the currency of unpriced events. `retry_delays`: the pause before each retry of a
        transiently failed transaction (jittered by `rng`); their number is the retry count."""
        if max_batch < 1 or max_delay < 0:
            raise ValueError("max_batch must be positive and max_delay not negative")
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._pricer = pricer
        self._hooks = tuple(hooks)
        self._metrics = metrics
        self._clock = clock
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._currency = default_currency
        self._retry_delays = tuple(retry_delays)
        self._rng = rng or random.Random()
        if concurrency is None:
            concurrency = 2 if engine.dialect.name == "postgresql" else 1
        self._slots = asyncio.Semaphore(concurrency)
        self._pending: deque[_Chunk] = deque()
        self._pending_rows = 0
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._closing = False

    async def record(self, records: Sequence[UsageRecord]) -> list[RecordOutcome]:
        """Records `records` (each at most once, ever); one outcome per record, in order.
        `UnstorableUsage` (nothing written) when an event does not fit the ledger."""
        if self._closing:
            raise RuntimeError("the ledger writer is closed")
        for record in records:
            check_storable(record)
        if not records:
            return []
        loop = asyncio.get_running_loop()
        chunks = [
            _Chunk(records[i : i + self._max_batch], loop.create_future(), loop.time())
            for i in range(0, len(records), self._max_batch)
        ]
        self._pending.extend(chunks)
        self._pending_rows += len(records)
        if self._pending_rows >= self._max_batch:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        parts = await asyncio.gather(*(chunk.future for chunk in chunks))
        return [outcome for part in parts for outcome in part]

    async def aclose(self) -> None:
        """Writes what is pending, waits for batches in flight, then refuses new events."""
        self._closing = True
        self._full.set()
        if self._flusher is not None:
            await self._flusher
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            await self._slots.acquire()
            try:
                # From the oldest event, or from now if it waited for a free slot: callers
                # answered by the batch that just committed send their next events within
                # moments, and this batch should carry them rather than leave alone.
                oldest = self._pending[0].enqueued if self._pending else 0.0
                deadline = max(oldest, loop.time()) + self._max_delay
                while not self._closing and self._pending_rows < self._max_batch:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(remaining):
                            await self._full.wait()
                batch = self._take()
            except BaseException:
                self._slots.release()
                raise
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._run_batch(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    def _take(self) -> list[_Chunk]:
        """Whole chunks from the front, up to `max_batch` events; chunks whose caller gave up
        (cancelled) before their batch started are dropped unwritten."""
        batch: list[_Chunk] = []
        size = 0
        while self._pending and size + len(self._pending[0].records) <= self._max_batch:
            chunk = self._pending.popleft()
            self._pending_rows -= len(chunk.records)
            if not chunk.future.done():
                batch.append(chunk)
                size += len(chunk.records)
        if self._pending_rows < self._max_batch:
            self._full.clear()
        return batch

    async def _run_batch(self, batch: list[_Chunk]) -> None:
        try:
            await self._settle(batch)
        finally:
            self._slots.release()

    async def _settle(self, batch: list[_Chunk]) -> None:
        try:
            outcomes = await self._write([r for chunk in batch for r in chunk.records])
        except Exception as exc:
            if len(batch) > 1 and not is_transient(exc):
                log.warning("ledger batch failed (%s); writing its callers one by one", exc)
                for chunk in batch:
                    await self._settle([chunk])
                return
            for chunk in batch:
                if not chunk.future.done():
                    chunk.future.set_exception(exc)
            return
        start = 0
        for chunk in batch:
            end = start + len(chunk.records)
            if not chunk.future.done():
                chunk.future.set_result(outcomes[start:end])
            start = end

    async def _write(self, records: list[UsageRecord]) -> list[RecordOutcome]:
        started = time.perf_counter()
        first: dict[str, int] = {}
        for index, record in enumerate(records):
            first.setdefault(record.request_id, index)
        unique = [records[i] for i in sorted(first.values())]
        priced = await price_batch(self._pricer, unique)
        new = await self._commit_with_retries(priced)
        await self._after_commit(new)
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        self._count(new, len(records))
        cost = {p.record.request_id: p.cost for p in new}
        return [
            RecordOutcome(r.request_id, recorded, cost.get(r.request_id) if recorded else None)
            for i, r in enumerate(records)
            for recorded in [first[r.request_id] == i and r.request_id in cost]
        ]

    async def _commit_with_retries(self, priced: list[PricedUsage]) -> list[PricedUsage]:
        unsure: list[Attempt] = []  # failed attempts that may have committed all the same
        for delay in self._retry_delays:
            attempt = Attempt(datetime.fromtimestamp(self._clock(), UTC))
            try:
                new = await self._commit(priced, attempt)
                return new + await committed_unanswered(self._engine, unsure, new)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt.new:
                    unsure.append(attempt)
                self._metrics.retries.inc()
                log.warning("ledger transaction failed, retrying: %s", type(exc).__name__)
            await asyncio.sleep(delay * (0.5 + self._rng.random()))
        new = await self._commit(priced, Attempt(datetime.fromtimestamp(self._clock(), UTC)))
        return new + await committed_unanswered(self._engine, unsure, new)

    async def _commit(self, priced: list[PricedUsage], attempt: Attempt) -> list[PricedUsage]:
        ordered = sorted(priced, key=_request_id)
        rows = [ledger_values(p, attempt.recorded_at, self._currency) for p in ordered]
        async with self._engine.begin() as conn:
            new = await self._insert(conn, ordered, rows)
            attempt.new = new
            if new:
                for hook in self._hooks:
                    await hook.in_transaction(conn, new)
        return new

    async def _insert(
        self, conn: AsyncConnection, ordered: list[PricedUsage], rows: list[LedgerRow]
    ) -> list[PricedUsage]:
        """The new events' ledger rows and aggregates: on PostgreSQL COPY and one statement
        (`postgres_write`); on SQLite the insert, then the aggregates summed in Python."""
        if self._postgres:
            inserted = await write_batch(conn, rows)
            return [p for p in ordered if p.record.request_id in inserted]
        dicts = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        inserted = await insert_new(conn, dicts)
        new = [p for p in ordered if p.record.request_id in inserted]
        if new:
            await aggregates.apply(conn, new, self._currency)
        return new

    async def _after_commit(self, new: list[PricedUsage]) -> None:
        if not new:
            return
        for hook in self._hooks:
            try:
                await hook.after_commit(new)
            except Exception:
                log.exception("a ledger hook failed after commit (the events are recorded)")

    def _count(self, new: list[PricedUsage], total: int) -> None:
        self._metrics.recorded.inc(len(new))
        self._metrics.duplicates.inc(total - len(new))
        for p in new:
            if p.cost is None:
                self._metrics.count_unpriced(p.record.provider)
