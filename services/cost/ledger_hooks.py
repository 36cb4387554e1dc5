"""What the ledger tells the rest of the service about newly recorded usage.

The ledger writer calls every hook's `in_transaction` with the events it has just inserted
(never a duplicate), inside the transaction that inserts them, so whatever the hook writes
(budget spend, alerts) commits or rolls back with the ledger rows: exactly once, like them.
`after_commit` runs once the transaction committed, for effects outside the database (settling
reservations in Redis, waking alert watchers); it must not fail the write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from services.cost.money import Money
from services.cost.price import PriceRow
from services.cost.usage import UsageRecord


@dataclass(frozen=True, slots=True)
class PricedUsage:
    record: UsageRecord
    cost: Money | None
    """None: no price was known for the model (recorded, counted as unpriced)."""
    price_id: int | None = None


class LedgerHook(Protocol):
    async def in_transaction(
        self, conn: AsyncConnection, recorded: Sequence[PricedUsage]
    ) -> None: ...

    async def after_commit(self, recorded: Sequence[PricedUsage]) -> None: ...


class Pricer(Protocol):
    """The price in force for a call (its provider and upstream model, else its public model)
    at the time it happened; None when no price is known."""

    async def price_for(self, record: UsageRecord) -> PriceRow | None: ...
