"""`cost_prices` through PriceStore: one behavioural suite on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.database import create_engine, migrate
from services.cost.price import PriceRow
from services.cost.pricing.price_store import PriceStore
from svckit.errors import AlreadyExists, FailedPrecondition

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 1, tzinfo=UTC).timestamp()


def price(
    valid_from: datetime, input_nanos: int = 1, model: str = "gpt-4o", **kw: object
) -> PriceRow:
    fields: dict[str, object] = {
        "provider": "openai",
        "model": model,
        "valid_from": valid_from,
        "currency": "USD",
        "input_per_million": input_nanos,
        "output_per_million": 2 * input_nanos,
    }
    fields.update(kw)
    return PriceRow(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await migrate(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> PriceStore:
    return PriceStore(engine, clock=lambda: NOW)


async def test_an_added_version_reads_back_with_its_id_and_amounts(store: PriceStore) -> None:
    row = price(
        JAN,
        input_nanos=2_500_000_000,
        cached_input_per_million=1_250_000_000,
        cache_write_per_million=3,
        reasoning_per_million=4,
    )

    added = await store.add(row)

    assert added.id is not None
    assert added == replace(row, id=added.id)
    assert await store.get("openai", "gpt-4o", JAN) == added


async def test_a_duplicate_version_is_already_exists(store: PriceStore) -> None:
    await store.add(price(JAN))

    with pytest.raises(AlreadyExists) as raised:
        await store.add(price(JAN, input_nanos=9))

    assert raised.value.reason == "PRICE_EXISTS"
    assert [r.input_per_million for r in await store.list()] == [1]


async def test_times_in_any_offset_are_stored_as_the_same_instant(store: PriceStore) -> None:
    paris = timezone(timedelta(hours=1))
    await store.add(price(datetime(2025, 1, 1, 1, 0, tzinfo=paris)))

    found = await store.get("openai", "gpt-4o", JAN)

    assert found is not None
    assert found.valid_from == JAN
    assert found.valid_from.tzinfo == UTC


async def test_the_version_in_force_is_the_latest_started_by_then(store: PriceStore) -> None:
    await store.add(price(JAN, input_nanos=1))
    await store.add(price(MAR, input_nanos=3))
    await store.add(price(FEB, input_nanos=2))

    async def at(when: datetime) -> int | None:
        found = await store.in_force("openai", "gpt-4o", when)
        return None if found is None else found.input_per_million

    assert await at(JAN - timedelta(microseconds=1)) is None
    assert await at(JAN) == 1
    assert await at(FEB - timedelta(seconds=1)) == 1
    assert await at(FEB) == 2
    assert await at(MAR + timedelta(days=400)) == 3
    assert await store.in_force("openai", "gpt-4o-mini", MAR) is None


async def test_list_is_newest_first_and_filters_by_provider_and_model(store: PriceStore) -> None:
    await store.add(price(JAN, model="a"))
    await store.add(price(MAR, model="b"))
    await store.add(price(FEB, model="a", provider=""))
    await store.add(price(FEB, model="a"))

    everything = await store.list()
    public = await store.list(provider="")
    model_a = await store.list(model="a")
    one = await store.list(provider="openai", model="a")

    assert [(r.provider, r.model, r.valid_from) for r in everything] == [
        ("openai", "b", MAR),
        ("openai", "a", FEB),
        ("", "a", FEB),
        ("openai", "a", JAN),
    ]
    assert [(r.provider, r.model) for r in public] == [("", "a")]
    assert len(model_a) == 3
    assert [r.valid_from for r in one] == [FEB, JAN]


async def test_append_adds_a_version_after_the_newest(store: PriceStore) -> None:
    first = await store.append(price(JAN))
    second = await store.append(price(FEB, input_nanos=2))
    other_model = await store.append(price(JAN, model="other"))

    assert first.id is not None
    assert second.id is not None
    assert other_model.id is not None
    assert second.id > first.id
    assert [r.valid_from for r in await store.list(model="gpt-4o")] == [FEB, JAN]


async def test_append_before_the_newest_version_is_refused(store: PriceStore) -> None:
    await store.append(price(JAN))
    await store.append(price(MAR))

    with pytest.raises(FailedPrecondition) as raised:
        await store.append(price(FEB))

    assert raised.value.reason == "PRICE_HISTORY_IMMUTABLE"
    assert [r.valid_from for r in await store.list()] == [MAR, JAN]


async def test_append_at_the_newest_versions_time_is_already_exists(store: PriceStore) -> None:
    await store.append(price(JAN))

    with pytest.raises(AlreadyExists):
        await store.append(price(JAN, input_nanos=5))


async def test_concurrent_appends_never_insert_an_older_version_after_a_newer(
    engine: AsyncEngine,
) -> None:
    """Twenty writers, each on its own store, append versions in random order at once: every
    version that got in is newer than every version inserted before it."""
    stores = [PriceStore(engine, clock=lambda: NOW) for _ in range(20)]
    starts = [JAN + timedelta(days=i) for i in range(20)]
    random.Random(7).shuffle(starts)

    async def attempt(store: PriceStore, start: datetime) -> bool:
        try:
            await store.append(price(start))
        except (FailedPrecondition, AlreadyExists):
            return False
        return True

    outcomes = await asyncio.gather(*(attempt(s, t) for s, t in zip(stores, starts, strict=True)))

    rows = sorted(await stores[0].list(), key=lambda r: r.id or 0)
    assert len(rows) == sum(outcomes) >= 1
    assert [r.valid_from for r in rows] == sorted(r.valid_from for r in rows)


async def test_naive_times_are_refused(store: PriceStore) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await store.add(price(datetime(2025, 1, 1)))
