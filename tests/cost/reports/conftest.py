"""Fixtures of the spend report tests: the aggregate tables filled directly with known rows.

`engine` is parametrized: every test that uses it (directly or through `report`) runs once on
SQLite and once on PostgreSQL, each migrated with the cost service's history, so the two are
held to the same reports. The rows are chosen to break things: a tenant that sorts first by
code point but not in a locale ("Zeta" before "acme"), prompt versions 9 and 10, an amount
beyond a float's exact integers (2**53 + 1), two currencies, unpriced requests, days on
both sides of the range the tests ask for (February 29 to April 1, 2024), and latencies whose
mean per request differs from the mean of the rows' means (rows of 1, 2 and 3 requests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.database import create_engine, migrate
from services.cost.reports.spend import SpendReport
from services.cost.tables import spend_daily, spend_flag_daily

CHAT = "/v1/chat/completions"
EMBED = "/v1/embeddings"
BIG = 2**53 + 1
"""Nanos a float cannot hold exactly."""

FEB29, MAR1, MAR2, MAR3, MAR31, APR1 = (
    date(2024, 2, 29),
    date(2024, 3, 1),
    date(2024, 3, 2),
    date(2024, 3, 3),
    date(2024, 3, 31),
    date(2024, 4, 1),
)


def _measures(
    cost: int,
    inp: int,
    out: int,
    cached: int = 0,
    requests: int = 1,
    unpriced: int = 0,
    *,
    latency: int,
) -> dict[str, int]:
    return {
        "cost_nanos": cost,
        "input_tokens": inp,
        "output_tokens": out,
        "cached_tokens": cached,
        "requests": requests,
        "unpriced_requests": unpriced,
        "latency_ms": latency,
    }


def _spend(
    day: date,
    tenant: str,
    subject: str,
    model: str,
    endpoint: str,
    prompt: tuple[str, int],
    currency: str,
    measures: dict[str, int],
) -> dict[str, Any]:
    return {
        "day": day,
        "tenant": tenant,
        "subject": subject,
        "model": model,
        "endpoint": endpoint,
        "prompt_name": prompt[0],
        "prompt_version": prompt[1],
        "currency": currency,
        **measures,
    }


def _flag(
    day: date, tenant: str, flag: str, variant: str, model: str, currency: str, m: dict[str, int]
) -> dict[str, Any]:
    return {
        "day": day,
        "tenant": tenant,
        "flag_key": flag,
        "variant": variant,
        "model": model,
        "currency": currency,
        **m,
    }


NO_PROMPT = ("", 0)
SUMMARIZE_9 = ("summarize", 9)
SUMMARIZE_10 = ("summarize", 10)

# fmt: off
SPEND_ROWS: list[dict[str, Any]] = [
    _spend(FEB29, "acme", "users/ann", "gpt-4o", CHAT, NO_PROMPT, "USD",
           _measures(1_000, 10, 5, latency=400)),
    _spend(MAR1, "acme", "users/ann", "gpt-4o", CHAT, SUMMARIZE_9, "USD",
           _measures(2_500_000_000, 1000, 200, cached=100, requests=3, latency=900)),
    _spend(MAR1, "acme", "users/bob", "gpt-4o-mini", CHAT, SUMMARIZE_10, "USD",
           _measures(150_000_000, 500, 100, requests=2, latency=250)),
    _spend(MAR1, "Zeta", "keys/k1", "embed-3", EMBED, NO_PROMPT, "USD",
           _measures(BIG, 7, 0, latency=35)),
    _spend(MAR2, "acme", "users/ann", "gpt-4o", CHAT, SUMMARIZE_10, "USD",
           _measures(1_234_567_891, 300, 30, latency=500)),
    _spend(MAR2, "acme", "users/ann", "mystery", CHAT, NO_PROMPT, "USD",
           _measures(0, 50, 50, requests=2, unpriced=2, latency=61)),
    _spend(MAR2, "beta", "users/cy", "gpt-4o", CHAT, NO_PROMPT, "EUR",
           _measures(777_000_000, 40, 4, latency=700)),
    _spend(MAR3, "alpha", "users/dee", "gpt-4o", CHAT, NO_PROMPT, "USD",
           _measures(42, 1, 1, latency=111)),
    _spend(MAR31, "acme", "users/ann", "gpt-4o", CHAT, NO_PROMPT, "USD",
           _measures(5, 1, 1, latency=10)),
    _spend(APR1, "acme", "users/ann", "gpt-4o", CHAT, NO_PROMPT, "USD",
           _measures(7, 1, 1, latency=20)),
]

FLAG_ROWS: list[dict[str, Any]] = [
    _flag(FEB29, "acme", "new-prompt", "on", "gpt-4o", "USD",
          _measures(1_000, 10, 5, latency=400)),
    _flag(MAR1, "acme", "new-prompt", "on", "gpt-4o", "USD",
          _measures(2_500_000_000, 1000, 200, cached=100, requests=3, latency=900)),
    _flag(MAR1, "acme", "model-exp", "b", "gpt-4o", "USD",
          _measures(2_500_000_000, 1000, 200, cached=100, requests=3, latency=900)),
    _flag(MAR1, "acme", "new-prompt", "off", "gpt-4o-mini", "USD",
          _measures(150_000_000, 500, 100, requests=2, latency=250)),
    _flag(MAR2, "beta", "new-prompt", "on", "gpt-4o", "EUR",
          _measures(777_000_000, 40, 4, latency=700)),
]
# fmt: on


async def fill(
    engine: AsyncEngine, spend: list[dict[str, Any]], flags: list[dict[str, Any]]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(spend_daily), spend)
        await conn.execute(insert(spend_flag_daily), flags)


async def filled_engine(url: str) -> AsyncEngine:
    """A migrated database at `url` holding SPEND_ROWS and FLAG_ROWS."""
    await migrate(url)
    engine = create_engine(url)
    await fill(engine, SPEND_ROWS, FLAG_ROWS)
    return engine


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory}/reports.sqlite3"


def utc(day: date, hour: int = 0, minute: int = 0, microsecond: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, 0, microsecond, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await filled_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def report(engine: AsyncEngine) -> SpendReport:
    return SpendReport(engine)
