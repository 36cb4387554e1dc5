"""Fixtures of the budget tests: a fake clock, the database on SQLite and PostgreSQL, the
reservation store in memory and in Redis (each one behavioural suite over both), and helpers
that play the ledger's part (a transaction calling the hook, then `after_commit`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.budgets.accounting import BudgetAccounting
from services.cost.budgets.memory_reservations import MemoryReservations
from services.cost.budgets.model import Budget
from services.cost.budgets.periods import Period
from services.cost.budgets.redis_reservations import RedisReservations
from services.cost.budgets.reservations import ReservationStore
from services.cost.database import create_engine, migrate
from services.cost.ledger_hooks import PricedUsage
from services.cost.money import Money
from services.cost.price import PriceRow
from services.cost.usage import UsageRecord

NOW = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)
"""A Wednesday afternoon, mid-month and mid-week."""
ONE_CALL = 1_000_000
"""Nanos of USD one test call costs."""


class FakeClock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database of the test (not yet migrated: `engine` migrates it)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/cost.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["memory", "redis"])
def reservations(
    request: pytest.FixtureRequest, clock: FakeClock, key_prefix: str
) -> ReservationStore:
    if request.param == "memory":
        return MemoryReservations(clock=clock)
    client: aioredis.Redis = request.getfixturevalue("redis_client")
    return RedisReservations(client, key_prefix=key_prefix, clock=clock)


def budget(
    *,
    id: str = "b1",
    scope: str = "tenants/acme",
    limit: int = 10 * ONE_CALL,
    hard: bool = True,
    period: Period = Period.MONTHLY,
    model: str = "",
    thresholds: tuple[int, ...] = (50, 80, 100),
    currency: str = "USD",
    time_zone: str = "UTC",
) -> Budget:
    return Budget(
        id=id,
        scope=scope,
        limit=Money(currency, limit),
        period=period,
        hard=hard,
        model=model,
        time_zone=time_zone,
        thresholds=thresholds,
        created_at=NOW,
    )


def usage(
    request_id: str,
    nanos: int | None = ONE_CALL,
    *,
    tenant: str = "acme",
    user: str = "",
    model: str = "gpt-4o",
    at: datetime = NOW,
    currency: str = "USD",
) -> PricedUsage:
    record = UsageRecord(
        request_id=request_id, occurred_at=at, tenant=tenant, user=user, model=model
    )
    cost = None if nanos is None else Money(currency, nanos)
    return PricedUsage(record, cost)


async def record(
    engine: AsyncEngine, accounting: BudgetAccounting, items: Sequence[PricedUsage]
) -> None:
    """What the ledger writer does with new events: the hook in its transaction, then after."""
    async with engine.begin() as conn:
        await accounting.in_transaction(conn, items)
    await accounting.after_commit(items)


class TablePricer:
    """Prices by public model; an unknown model has no price."""

    def __init__(self, prices: dict[str, PriceRow]) -> None:
        self.prices = prices

    async def price_for(self, record: UsageRecord) -> PriceRow | None:
        return self.prices.get(record.model)


def price(input_per_million: int, output_per_million: int, **extra: int) -> PriceRow:
    return PriceRow(
        provider="openai",
        model="gpt-4o",
        valid_from=datetime(2024, 1, 1, tzinfo=UTC),
        currency="USD",
        input_per_million=input_per_million,
        output_per_million=output_per_million,
        **extra,  # type: ignore[arg-type]
    )
