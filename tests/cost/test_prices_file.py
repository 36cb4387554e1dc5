"""Operators' prices file: exact decimal amounts, every problem at once, idempotent loading."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.database import create_engine, migrate
from services.cost.price import PriceRow
from services.cost.pricing.price_store import PriceStore
from services.cost.pricing.prices_file import (
    AppliedPrices,
    PricesFileError,
    apply_prices,
    load_prices_file,
    load_prices_into,
    parse_prices_file,
)

JAN = datetime(2025, 1, 1, tzinfo=UTC)
EXAMPLE = """
prices:
  - provider: openai
    model: gpt-4o
    valid_from: 2025-01-01T00:00:00Z
    currency: USD
    input_per_million: 2.5
    output_per_million: 10
    cached_input_per_million: 1.25
  - model: house-model
    valid_from: "2025-01-01T01:00:00+01:00"
    currency: EUR
    input_per_million: "0.000000001"
    output_per_million: 1_000.123456789
    cache_write_per_million: 3.75
    reasoning_per_million: 2.675
"""


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
    return PriceStore(engine)


def test_amounts_in_currency_units_become_exact_nanos() -> None:
    gpt, house = parse_prices_file(EXAMPLE)

    assert gpt == PriceRow(
        provider="openai",
        model="gpt-4o",
        valid_from=JAN,
        currency="USD",
        input_per_million=2_500_000_000,
        output_per_million=10_000_000_000,
        cached_input_per_million=1_250_000_000,
        source="operator",
    )
    assert house.provider == ""  # a price for the public model name
    assert house.valid_from == JAN
    assert house.currency == "EUR"
    assert house.input_per_million == 1
    assert house.output_per_million == 1_000_123_456_789
    assert house.cache_write_per_million == 3_750_000_000
    assert house.reasoning_per_million == 2_675_000_000  # never through a float: 2.67499...


def test_every_problem_is_listed_at_once() -> None:
    text = """
prices:
  - provider: openai
    model: ""
    valid_from: 2025-01-01T00:00:00
    currency: usd
    input_per_million: 0.0000000001
    output_per_million: .inf
    colour: blue
  - model: m
    valid_from: 2025-01-01T00:00:00Z
    input_per_million: true
    output_per_million: -1
    cached_input_per_million: 99999999999
  - {model: dup, valid_from: 2025-01-01T00:00:00Z, input_per_million: 1, output_per_million: 1}
  - {model: dup, valid_from: 2025-01-01T00:00:00Z, input_per_million: 2, output_per_million: 2}
"""
    with pytest.raises(PricesFileError) as raised:
        parse_prices_file(text, source="prices.yaml")

    problems = raised.value.problems
    where = [problem.split(":")[0] for problem in problems]
    assert where == [
        "prices[0].model",
        "prices[0].valid_from",
        "prices[0].currency",
        "prices[0].input_per_million",
        "prices[0].output_per_million",
        "prices[0].colour",
        "prices[1].input_per_million",
        "prices[1].output_per_million",
        "prices[1].cached_input_per_million",
    ]
    assert "finer than a nano" in problems[3]
    assert "too large" in problems[8]
    assert str(raised.value).startswith("prices.yaml: 9 problem(s)")


def test_a_repeated_version_in_the_file_is_a_problem() -> None:
    text = """
prices:
  - {model: dup, valid_from: 2025-01-01T00:00:00Z, input_per_million: 1, output_per_million: 1}
  - {model: dup, valid_from: "2025-01-01T01:00:00+01:00", input_per_million: 2,
     output_per_million: 2}
"""
    with pytest.raises(PricesFileError) as raised:
        parse_prices_file(text)

    assert raised.value.problems == ("prices[1]: same provider, model and valid_from as prices[0]",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prices: [", "not valid YAML"),
        ("", "(file): Input should be a valid dictionary"),
        ("price: []", "prices: Field required"),
    ],
)
def test_a_file_that_is_not_a_prices_list_is_refused(text: str, expected: str) -> None:
    with pytest.raises(PricesFileError) as raised:
        parse_prices_file(text)

    assert expected in raised.value.problems[0]


def test_an_unreadable_file_is_a_prices_file_error(tmp_path: Path) -> None:
    with pytest.raises(PricesFileError) as raised:
        load_prices_file(tmp_path / "missing.yaml")

    assert raised.value.problems[0].startswith("cannot read the file")


async def test_loading_twice_adds_the_rows_once(store: PriceStore, tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(EXAMPLE)

    first = await load_prices_into(store, path)
    second = await load_prices_into(store, path)

    assert first == AppliedPrices(added=2, unchanged=0)
    assert second == AppliedPrices(added=0, unchanged=2)
    assert len(await store.list()) == 2


async def test_replicas_loading_the_same_file_at_once_store_each_row_once(
    store: PriceStore,
) -> None:
    rows = parse_prices_file(EXAMPLE)

    results = await asyncio.gather(*(apply_prices(store, rows) for _ in range(5)))

    assert sum(result.added for result in results) >= 2
    assert all(result.added + result.unchanged == 2 for result in results)
    assert len(await store.list()) == 2


async def test_a_stored_version_with_other_amounts_is_an_error_and_nothing_is_written(
    store: PriceStore,
) -> None:
    gpt, house = parse_prices_file(EXAMPLE)
    stored = await store.add(replace(gpt, input_per_million=1))

    with pytest.raises(PricesFileError) as raised:
        await apply_prices(store, [gpt, house], source="prices.yaml")

    assert raised.value.problems == (
        f"prices[0]: differs from the stored price of openai/gpt-4o from "
        f"2025-01-01T00:00:00+00:00 (id {stored.id}); prices are never edited: add a row with "
        "a later valid_from",
    )
    assert await store.list() == [stored]


async def test_a_row_stored_meanwhile_with_other_amounts_is_an_error(
    store: PriceStore,
) -> None:
    """A replica that loads another file between our check and our insert."""
    (gpt,) = parse_prices_file(EXAMPLE)[:1]

    class RacingStore(PriceStore):
        async def add(self, row: PriceRow) -> PriceRow:
            await PriceStore.add(store, replace(row, input_per_million=7))
            return await super().add(row)

    racing = RacingStore(store._engine)
    with pytest.raises(PricesFileError) as raised:
        await apply_prices(racing, [gpt])

    assert raised.value.problems == (
        "openai/gpt-4o from 2025-01-01T00:00:00+00:00: stored meanwhile with other amounts",
    )


async def test_a_file_may_add_history_before_prices_set_through_the_api(
    store: PriceStore,
) -> None:
    later = datetime(2025, 6, 1, tzinfo=UTC)
    await store.append(PriceRow("openai", "gpt-4o", later, "USD", 3, 4))

    applied = await apply_prices(store, parse_prices_file(EXAMPLE))

    assert applied.added == 2
    in_force = await store.in_force("openai", "gpt-4o", datetime(2025, 3, 1, tzinfo=UTC))
    assert in_force is not None
    assert in_force.input_per_million == 2_500_000_000
