"""Commits whose answer was lost: which events a failed attempt wrote after all.

A transaction can commit with its acknowledgement lost (the connection drops after the database
committed). The writer retries, and the retry finds those events already there, as if another
writer had recorded them. Each attempt stamps its rows with its own `recorded_at`, so after the
retry the events a failed attempt inserted are read back: the ones carrying that attempt's stamp
were committed by it, and only its answer was lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.periods import as_utc
from services.cost.ledger_hooks import PricedUsage
from services.cost.tables import ledger


@dataclass
class Attempt:
    """One try of a batch's transaction: its ledger stamp and the events it inserted."""

    recorded_at: datetime
    new: list[PricedUsage] = field(default_factory=list)


async def committed_unanswered(
    engine: AsyncEngine, unsure: Sequence[Attempt], new: Sequence[PricedUsage]
) -> list[PricedUsage]:
    """The events of the failed attempts `unsure`, not among the retry's `new`, that the ledger
    holds with their attempt's stamp."""
    written = {p.record.request_id for p in new}
    maybe = {
        p.record.request_id: (attempt.recorded_at, p)
        for attempt in unsure
        for p in attempt.new
        if p.record.request_id not in written
    }
    if not maybe:
        return []
    stamps = await _stamps(engine, list(maybe))
    return [p for rid, (at, p) in maybe.items() if stamps.get(rid) == at]


async def _stamps(engine: AsyncEngine, request_ids: list[str]) -> dict[str, datetime]:
    query = select(ledger.c.request_id, ledger.c.recorded_at).where(
        ledger.c.request_id.in_(request_ids)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {rid: as_utc(at) for rid, at in rows}


__all__ = ["Attempt", "committed_unanswered"]
