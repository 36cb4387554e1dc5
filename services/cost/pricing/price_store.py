"""Operators' prices in SQL (`cost_prices`): versions of a (provider, model) price, each valid
from a time until the next one.

A version is never updated or deleted, so a price id recorded in the ledger keeps meaning what
it meant. `add` inserts any version (the prices file seeds history with it); `append` inserts
one only after every existing version of that model, atomically, which is how the admin API
changes a price without changing the price of past usage. Times are stored in UTC (SQLite keeps
no offset) and read back as aware UTC datetimes. On SQLite the store numbers rows itself (see
`_next_id`); PostgreSQL's identity column does it there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, exists, insert, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.cost.price import PriceRow
from services.cost.tables import prices
from svckit.errors import AlreadyExists, FailedPrecondition

_AMOUNTS = (
    "input_per_million",
    "output_per_million",
    "cached_input_per_million",
    "cache_write_per_million",
    "reasoning_per_million",
)
_LOCK_NAMESPACE = 0x5B0A
"""First key of the PostgreSQL advisory lock that serialises `append` per model."""


class PriceStore:
    """The `cost_prices` table."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    async def add(self, row: PriceRow) -> PriceRow:
        """Insert a version; AlreadyExists when (provider, model, valid_from) has one."""
        async with self._engine.begin() as conn:
            return await self._insert(conn, row, after_newest=False)

    async def append(self, row: PriceRow) -> PriceRow:
        """Insert a version later than every existing one of (provider, model).

        FailedPrecondition when a later version exists (the new one would change the price of
        usage after it); AlreadyExists when one starts at the same time. Check and insert are
        one statement, and on PostgreSQL concurrent appends to one model queue on an advisory
        lock, so two racing appends cannot leave an older version inserted after a newer one.
        """
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                key = f"{len(row.provider)}:{row.provider}/{row.model}"  # unambiguous
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
                    {"ns": _LOCK_NAMESPACE, "key": key},
                )
            return await self._insert(conn, row, after_newest=True)

    async def get(self, provider: str, model: str, valid_from: datetime) -> PriceRow | None:
        """The version of (provider, model) starting exactly at `valid_from`."""
        query = _where(select(prices), provider, model).where(
            prices.c.valid_from == _utc(valid_from)
        )
        return await self._one(query)

    async def in_force(self, provider: str, model: str, at: datetime) -> PriceRow | None:
        """The version of (provider, model) in force at `at`: the latest starting by then."""
        query = (
            _where(select(prices), provider, model)
            .where(prices.c.valid_from <= _utc(at))
            .order_by(prices.c.valid_from.desc())
            .limit(1)
        )
        return await self._one(query)

    async def list(self, provider: str | None = None, model: str | None = None) -> list[PriceRow]:
        """Versions newest first (by valid_from), optionally of one provider and/or model
        (None: any; "" is a real provider, the one of prices for a public model name)."""
        query = select(prices)
        if provider is not None:
            query = query.where(prices.c.provider == provider)
        if model is not None:
            query = query.where(prices.c.model == model)
        query = query.order_by(prices.c.valid_from.desc(), prices.c.id.desc())
        async with self._engine.connect() as conn:
            return [_row(r._mapping) for r in await conn.execute(query)]

    async def _insert(
        self, conn: AsyncConnection, row: PriceRow, *, after_newest: bool
    ) -> PriceRow:
        values = _values(row, self._now())
        columns = [literal(v, type_=prices.c[k].type).label(k) for k, v in values.items()]
        source = select(*columns)
        if after_newest:
            later = _where(select(prices.c.id), row.provider, row.model).where(
                prices.c.valid_from > values["valid_from"]
            )
            source = source.where(~exists(later))
        statement = (
            insert(prices).from_select([c.name for c in columns], source).returning(prices.c.id)
        )
        try:
            inserted = (await conn.execute(statement)).scalar_one_or_none()
        except IntegrityError as exc:
            raise AlreadyExists(
                f"a price for {row.provider or '(any provider)'}/{row.model} already starts at "
                f"{values['valid_from'].isoformat()}",
                reason="PRICE_EXISTS",
            ) from exc
        if inserted is None:
            raise FailedPrecondition(
                f"a later price for {row.provider or '(any provider)'}/{row.model} exists; a new "
                "price must start after the newest one, so past usage keeps its price",
                reason="PRICE_HISTORY_IMMUTABLE",
            )
        return _row({**values, "id": inserted})

    async def _one(self, query: Select[Any]) -> PriceRow | None:
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).first()
        return None if found is None else _row(found._mapping)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def _where(query: Select[Any], provider: str, model: str) -> Select[Any]:
    return query.where(prices.c.provider == provider, prices.c.model == model)


def _values(row: PriceRow, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "provider": row.provider,
        "model": row.model,
        "valid_from": _utc(row.valid_from),
        "currency": row.currency,
    }
    values.update({name: getattr(row, name) for name in _AMOUNTS})
    values.update(source=row.source, created_at=now)
    return values


def _row(found: Any) -> PriceRow:
    return PriceRow(
        provider=found["provider"],
        model=found["model"],
        valid_from=_aware(found["valid_from"]),
        currency=found["currency"],
        **{name: int(found[name]) for name in _AMOUNTS},
        source=found["source"],
        id=int(found["id"]),
    )


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("price times must be timezone-aware")
    return value.astimezone(UTC)


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


__all__ = ["PriceStore"]
