"""Budgets in SQL (`cost_budgets`), and the budgets that apply to a call.

Writes go straight to the database. `matching` (the hot path of CheckBudget) reads an in-memory
copy of every budget, reloaded when older than `refresh_seconds` (5 s by default) and at once
after this replica's own create or delete; so a budget created or deleted through another
replica applies to checks here up to `refresh_seconds` later. Accounting does not use the copy:
it reads the budgets inside the ledger's transaction (`load_for_scopes`), so spend is counted
exactly from the moment a budget exists, whichever replica created it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.cost.budgets.model import Budget
from services.cost.budgets.periods import Period, as_utc
from services.cost.money import Money
from services.cost.tables import budget_spend, budgets
from svckit.errors import NotFound

DEFAULT_REFRESH_SECONDS = 5.0


class BudgetStore:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._refresh = refresh_seconds
        self._clock = clock
        self._cache: tuple[Budget, ...] = ()
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def create(self, budget: Budget) -> Budget:
        async with self._engine.begin() as conn:
            await conn.execute(insert(budgets).values(**_row(budget)))
        self._loaded_at = None
        return budget

    async def get(self, budget_id: str) -> Budget:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(budgets).where(budgets.c.id == budget_id))).first()
        if row is None:
            raise NotFound(f"no budget {budget_id!r}")
        return _budget(row._mapping)

    async def list_budgets(self, scope: str = "") -> list[Budget]:
        """Budgets, oldest first; only those of `scope` when given."""
        query = select(budgets).order_by(budgets.c.created_at, budgets.c.id)
        if scope:
            query = query.where(budgets.c.scope == scope)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_budget(row._mapping) for row in rows]

    async def delete(self, budget_id: str) -> None:
        """Deletes a budget and its spend; its alerts stay, as history."""
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(budgets).where(budgets.c.id == budget_id))
            await conn.execute(delete(budget_spend).where(budget_spend.c.budget_id == budget_id))
        self._loaded_at = None
        if result.rowcount == 0:
            raise NotFound(f"no budget {budget_id!r}")

    async def matching(self, scopes: Collection[str], model: str) -> list[Budget]:
        """The budgets a call of `scopes` to `model` counts against (from the cached copy)."""
        cached = await self._cached()
        return [budget for budget in cached if budget.applies_to(scopes, model)]

    async def _cached(self) -> tuple[Budget, ...]:
        if self._fresh():
            return self._cache
        async with self._lock:
            if not self._fresh():
                self._cache = tuple(await self.list_budgets())
                self._loaded_at = self._clock()
        return self._cache

    def _fresh(self) -> bool:
        return self._loaded_at is not None and self._clock() - self._loaded_at < self._refresh


async def load_for_scopes(conn: AsyncConnection, scopes: Collection[str]) -> list[Budget]:
    """Every budget of any of `scopes`, read in the caller's transaction."""
    if not scopes:
        return []
    query = select(budgets).where(budgets.c.scope.in_(sorted(scopes))).order_by(budgets.c.id)
    rows = (await conn.execute(query)).all()
    return [_budget(row._mapping) for row in rows]


def _row(budget: Budget) -> dict[str, Any]:
    return {
        "id": budget.id,
        "scope": budget.scope,
        "model": budget.model,
        "period": budget.period.value,
        "time_zone": budget.time_zone,
        "currency": budget.limit.currency,
        "limit_nanos": budget.limit.nanos,
        "hard": budget.hard,
        "thresholds": ",".join(str(level) for level in budget.thresholds),
        "created_at": as_utc(budget.created_at),
        "owner": budget.owner,
    }


def _budget(row: Any) -> Budget:
    return Budget(
        id=row["id"],
        scope=row["scope"],
        limit=Money(row["currency"], row["limit_nanos"]),
        period=Period(row["period"]),
        hard=row["hard"],
        model=row["model"],
        time_zone=row["time_zone"],
        thresholds=_levels(row["thresholds"]),
        created_at=as_utc(row["created_at"]),
        owner=row["owner"],
    )


def _levels(text: str) -> tuple[int, ...]:
    return tuple(int(level) for level in text.split(",") if level)


__all__ = ["BudgetStore", "load_for_scopes"]
