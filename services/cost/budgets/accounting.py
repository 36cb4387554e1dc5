"""Budget accounting: the ledger hook that adds recorded usage to budgets and raises alerts.

`in_transaction` runs inside the ledger's transaction with the events it has just inserted
(never a duplicate), so what it writes commits exactly once, like the ledger rows:

- for each priced event, each budget that applies to it (its scope among the event's scopes,
  its model empty or the event's, its currency the event's) and the budget period the event
  happened in, `cost_budget_spend` is upserted: spent_nanos += cost, RETURNING the new value;
- the thresholds crossed, `before * 100 < t * limit <= after * 100`, are inserted into
  `cost_alerts` with ON CONFLICT DO NOTHING.

Why each threshold fires once per period, even with two replicas consuming the same stream:
the upsert takes the row's lock until the transaction ends, and a concurrent transaction's
upsert of the same row waits and then sees the committed value, so the writers see disjoint
(before, after] ranges and exactly one crosses each threshold; the unique constraint on
(budget, period, threshold) is the second guard (a retried or rolled-back-and-replayed batch).
Rows are upserted in a fixed order (budget id, period) so writers never deadlock.

Unpriced events (no price known) count nothing. Usage in another currency than a budget's
does not count towards it (there are no exchange rates here).

`after_commit` settles each event's reservation with what it was charged (see
`reservations`) and hands the alerts raised to the listeners (the local alert feed, the
webhook). A failure there is logged, never raised: the usage is committed; an unsettled
reservation expires after its ttl. What `in_transaction` computed for `after_commit` is kept
per request id; a transaction that rolls back leaves its entries, which the next attempt of
the batch replaces, and at most `PENDING_LIMIT` are kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.cost.budgets.model import Alert, Budget, new_id
from services.cost.budgets.periods import as_utc
from services.cost.budgets.reservations import Charge, ReservationStore
from services.cost.budgets.store import load_for_scopes
from services.cost.ledger_hooks import PricedUsage
from services.cost.money import Money
from services.cost.tables import alerts, budget_spend

PENDING_LIMIT = 10_000

AlertListener = Callable[[Sequence[Alert]], None]

log = logging.getLogger(__name__)

_Bucket = tuple[str, datetime]
"""(budget id, period start in UTC)"""


class BudgetAccounting:
    """A `LedgerHook`."""

    def __init__(
        self,
        reservations: ReservationStore,
        *,
        listeners: Iterable[AlertListener] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._reservations = reservations
        self._listeners = list(listeners)
        self._clock = clock
        self._charges: OrderedDict[str, list[Charge]] = OrderedDict()
        self._raised: OrderedDict[str, list[Alert]] = OrderedDict()

    def add_listener(self, listener: AlertListener) -> None:
        self._listeners.append(listener)

    async def in_transaction(self, conn: AsyncConnection, recorded: Sequence[PricedUsage]) -> None:
        for item in recorded:  # what an earlier, rolled-back attempt of the batch left
            self._charges.pop(item.record.request_id, None)
            self._raised.pop(item.record.request_id, None)
        priced = [item for item in recorded if item.cost is not None and item.cost.nanos > 0]
        scopes = set().union(*(item.record.scopes() for item in priced))
        found = await load_for_scopes(conn, scopes)
        by_id = {budget.id: budget for budget in found}
        totals: dict[_Bucket, int] = {}
        first_request: dict[_Bucket, str] = {}
        for item in priced:
            for charge in self._charge(item, found):
                bucket = (charge.budget_id, charge.period_start)
                totals[bucket] = totals.get(bucket, 0) + charge.nanos
                first_request.setdefault(bucket, item.record.request_id)
        raised_at = datetime.fromtimestamp(self._clock(), UTC)
        for bucket in sorted(totals):
            budget = by_id[bucket[0]]
            after = await _add_spend(conn, bucket, totals[bucket])
            for threshold in budget.crossed(after - totals[bucket], after):
                alert = _alert(budget, bucket[1], threshold, after, raised_at)
                if await _insert_alert(conn, alert):
                    self._remember(self._raised, first_request[bucket], alert)

    async def after_commit(self, recorded: Sequence[PricedUsage]) -> None:
        request_ids = [item.record.request_id for item in recorded]
        settled = await asyncio.gather(
            *(self._settle(request_id) for request_id in request_ids), return_exceptions=True
        )
        failed = sum(1 for result in settled if isinstance(result, BaseException))
        if failed:
            log.warning("settling %d of %d reservations failed", failed, len(request_ids))
        raised = [alert for rid in request_ids for alert in self._raised.pop(rid, [])]
        if raised:
            self._notify(raised)

    def _charge(self, item: PricedUsage, found: Collection[Budget]) -> list[Charge]:
        record, cost = item.record, item.cost
        assert cost is not None
        scopes = record.scopes()
        charges = [
            Charge(budget.id, budget.bounds(as_utc(record.occurred_at))[0], cost.nanos)
            for budget in found
            if budget.applies_to(scopes, record.model) and budget.limit.currency == cost.currency
        ]
        self._charges[record.request_id] = charges
        _trim(self._charges)
        return charges

    async def _settle(self, request_id: str) -> None:
        charges = self._charges.pop(request_id, [])
        await self._reservations.settle(request_id, charges)

    def _remember(self, pending: OrderedDict[str, list[Alert]], rid: str, alert: Alert) -> None:
        pending.setdefault(rid, []).append(alert)
        _trim(pending)

    def _notify(self, raised: Sequence[Alert]) -> None:
        for listener in self._listeners:
            try:
                listener(raised)
            except Exception:
                log.exception("an alert listener failed")


async def read_spent(conn: AsyncConnection, buckets: Collection[_Bucket]) -> dict[_Bucket, int]:
    """The spend of each (budget id, period start) asked for; absent ones have spent nothing."""
    if not buckets:
        return {}
    ids = sorted({budget_id for budget_id, _ in buckets})
    starts = sorted({as_utc(start) for _, start in buckets})
    query = select(budget_spend).where(
        budget_spend.c.budget_id.in_(ids), budget_spend.c.period_start.in_(starts)
    )
    rows = (await conn.execute(query)).all()
    found = {(row.budget_id, as_utc(row.period_start)): int(row.spent_nanos) for row in rows}
    return {bucket: found.get((bucket[0], as_utc(bucket[1])), 0) for bucket in buckets}


async def _add_spend(conn: AsyncConnection, bucket: _Bucket, nanos: int) -> int:
    """Adds `nanos` to the bucket's spend; returns the spend after (this transaction's view)."""
    insert = _dialect_insert(conn)
    statement = insert(budget_spend).values(
        budget_id=bucket[0], period_start=as_utc(bucket[1]), spent_nanos=nanos
    )
    statement = statement.on_conflict_do_update(
        index_elements=[budget_spend.c.budget_id, budget_spend.c.period_start],
        set_={"spent_nanos": budget_spend.c.spent_nanos + statement.excluded.spent_nanos},
    ).returning(budget_spend.c.spent_nanos)
    return int((await conn.execute(statement)).scalar_one())


async def _insert_alert(conn: AsyncConnection, alert: Alert) -> bool:
    """True when this inserted the alert; False when its threshold had fired in the period."""
    insert = _dialect_insert(conn)
    statement = (
        insert(alerts)
        .values(
            id=alert.id,
            budget_id=alert.budget_id,
            scope=alert.scope,
            threshold=alert.threshold,
            period_start=as_utc(alert.period_start),
            currency=alert.limit.currency,
            spent_nanos=alert.spent.nanos,
            limit_nanos=alert.limit.nanos,
            raised_at=as_utc(alert.raised_at),
        )
        .on_conflict_do_nothing(
            index_elements=[alerts.c.budget_id, alerts.c.period_start, alerts.c.threshold]
        )
        .returning(alerts.c.id)
    )
    return (await conn.execute(statement)).first() is not None


def _dialect_insert(conn: AsyncConnection) -> Any:
    """The insert with ON CONFLICT of the connection's dialect (PostgreSQL or SQLite)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert
    return sqlite.insert


def _alert(
    budget: Budget, period_start: datetime, threshold: int, spent: int, raised_at: datetime
) -> Alert:
    return Alert(
        id=new_id(),
        budget_id=budget.id,
        scope=budget.scope,
        threshold=threshold,
        period_start=period_start,
        spent=Money(budget.limit.currency, spent),
        limit=budget.limit,
        raised_at=raised_at,
    )


def _trim(pending: OrderedDict[str, Any]) -> None:
    while len(pending) > PENDING_LIMIT:
        pending.popitem(last=False)
