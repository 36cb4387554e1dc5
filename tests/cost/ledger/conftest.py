"""Fixtures of the ledger tests: a migrated database on both backends (SQLite and PostgreSQL),
an in-memory Pricer, a hook that remembers what it saw, and usage events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.cost.database import create_engine, migrate
from services.cost.ledger.writer import LedgerMetrics, LedgerWriter
from services.cost.ledger_hooks import PricedUsage
from services.cost.price import PriceRow
from services.cost.tables import ledger
from services.cost.usage import UsageRecord

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
GPT = PriceRow("openai", "gpt-4o", datetime(2026, 1, 1, tzinfo=UTC), "USD", 2_500, 10_000, id=1)
"""Deliberately odd prices (nanos per million) so rounding shows in the totals."""
CLAUDE = PriceRow(
    "anthropic", "claude", datetime(2026, 1, 1, tzinfo=UTC), "USD", 3_000_001, 15_000_003, id=2
)


class DictPricer:
    """Prices by (provider, upstream model), else by public model; the newest version whose
    valid_from is not after the event. Counts lookups, so batching can be checked."""

    def __init__(self, rows: Sequence[PriceRow] = (GPT, CLAUDE)) -> None:
        self.rows = list(rows)
        self.lookups = 0

    async def price_for(self, record: UsageRecord) -> PriceRow | None:
        self.lookups += 1
        found = [
            row
            for row in self.rows
            if row.provider == record.provider
            and row.model in {record.upstream_model, record.model}
            and row.valid_from <= record.occurred_at
        ]
        return max(found, key=lambda row: row.valid_from, default=None)


@dataclass
class RememberingHook:
    """Remembers the events it saw in the transaction and after commit; fails on request."""

    fail_on: str | None = None
    seen: list[list[PricedUsage]] = field(default_factory=list)
    committed: list[list[PricedUsage]] = field(default_factory=list)
    fail_after_commit: bool = False
    visible: list[int] = field(default_factory=list)
    """How many of the events it was given the hook's connection could read in the ledger."""

    async def in_transaction(self, conn: AsyncConnection, recorded: Sequence[PricedUsage]) -> None:
        self.seen.append(list(recorded))
        ids = [p.record.request_id for p in recorded]
        query = select(func.count()).where(ledger.c.request_id.in_(ids))
        self.visible.append(int(await conn.scalar(query) or 0))
        if any(p.record.request_id == self.fail_on for p in recorded):
            raise RuntimeError("budget hook refused the batch")

    async def after_commit(self, recorded: Sequence[PricedUsage]) -> None:
        self.committed.append(list(recorded))
        if self.fail_after_commit:
            raise RuntimeError("watchers are gone")


def usage(request_id: str, **overrides: object) -> UsageRecord:
    fields: dict[str, object] = {
        "request_id": request_id,
        "occurred_at": T0,
        "tenant": "acme",
        "subject": "users/ann",
        "endpoint": "chat",
        "model": "gpt-4o",
        "provider": "openai",
        "upstream_model": "gpt-4o",
        "input_tokens": 1_234,
        "output_tokens": 567,
        "cached_tokens": 200,
    }
    fields.update(overrides)
    return UsageRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh cost database: SQLite (embedded) and PostgreSQL (production)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/cost.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database."""
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def pricer() -> DictPricer:
    return DictPricer()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def hook() -> RememberingHook:
    return RememberingHook()


@pytest.fixture
async def writer(
    engine: AsyncEngine, pricer: DictPricer, hook: RememberingHook, registry: CollectorRegistry
) -> AsyncIterator[LedgerWriter]:
    writer = LedgerWriter(
        engine,
        pricer,
        [hook],
        LedgerMetrics(registry),
        clock=lambda: T0.timestamp(),
        max_batch=500,
        max_delay=0.002,
        retry_delays=(0.0, 0.001),
    )
    yield writer
    await writer.aclose()
