"""The price book: the price in force for a call, and operators' price changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cost.database import create_engine, migrate
from services.cost.money import Money
from services.cost.price import PriceRow, cost_of
from services.cost.pricing.default_prices import DefaultPrices, load_default_prices
from services.cost.pricing.price_book import PriceBook
from services.cost.pricing.price_store import PriceStore
from services.cost.usage import UsageRecord
from svckit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
REFRESH = 30.0


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingStore(PriceStore):
    """A real store that counts full reads, to see how often the book reloads."""

    reads = 0

    async def list(self, provider: str | None = None, model: str | None = None) -> list[PriceRow]:
        self.reads += 1
        return await super().list(provider, model)


def price(
    valid_from: datetime,
    input_nanos: int,
    provider: str = "acme",
    model: str = "acme-large",
    **kw: int | str,
) -> PriceRow:
    return PriceRow(
        provider=provider,
        model=model,
        valid_from=valid_from,
        currency=str(kw.pop("currency", "USD")),
        input_per_million=input_nanos,
        output_per_million=int(kw.pop("output_per_million", 2 * input_nanos)),
        **kw,  # type: ignore[arg-type]
    )


def usage(when: datetime, **kw: object) -> UsageRecord:
    fields: dict[str, object] = {
        "request_id": "r1",
        "occurred_at": when,
        "model": "large",
        "provider": "acme",
        "upstream_model": "acme-large",
        "input_tokens": 1_000_000,
        "output_tokens": 1_000_000,
    }
    fields.update(kw)
    return UsageRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def defaults() -> DefaultPrices:
    return load_default_prices()


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
def clock() -> FakeClock:
    return FakeClock(JAN - timedelta(days=30))


@pytest.fixture
def store(engine: AsyncEngine, clock: FakeClock) -> CountingStore:
    return CountingStore(engine, clock=clock)


@pytest.fixture
def book(store: PriceStore, defaults: DefaultPrices, clock: FakeClock) -> PriceBook:
    return PriceBook(store, defaults, clock=clock, refresh_seconds=REFRESH)


async def charged(book: PriceBook, record: UsageRecord) -> Money | None:
    found = await book.price_for(record)
    return None if found is None else cost_of(record, found)


async def test_a_price_change_applies_to_new_usage_only(book: PriceBook, clock: FakeClock) -> None:
    old = await book.set_price(price(JAN, input_nanos=1_000_000_000))
    before_change = usage(FEB - timedelta(microseconds=1))
    assert await charged(book, before_change) == Money("USD", 3_000_000_000)

    clock.now = (FEB - timedelta(hours=1)).timestamp()
    new = await book.set_price(price(FEB, input_nanos=2_000_000_000))

    # usage before valid_from keeps the old price, even when its event arrives after the change
    assert await book.price_for(before_change) == old
    assert await charged(book, before_change) == Money("USD", 3_000_000_000)
    assert await book.price_for(usage(FEB)) == new
    assert await charged(book, usage(FEB + timedelta(days=1))) == Money("USD", 6_000_000_000)
    # and before the first operator price there was none for this model
    assert await book.price_for(usage(JAN - timedelta(seconds=1))) is None


async def test_a_change_before_the_newest_version_is_refused(book: PriceBook) -> None:
    await book.set_price(price(FEB, input_nanos=2))

    with pytest.raises(FailedPrecondition):
        await book.set_price(price(JAN, input_nanos=1))
    with pytest.raises(AlreadyExists):
        await book.set_price(price(FEB, input_nanos=3))

    assert [r.input_per_million for r in await book.list_prices()] == [2]
    assert (await book.price_for(usage(FEB))).input_per_million == 2  # type: ignore[union-attr]


async def test_each_token_kind_is_charged_at_its_own_price(book: PriceBook) -> None:
    await book.set_price(
        price(
            JAN,
            input_nanos=2_000_000_000,
            output_per_million=8_000_000_000,
            cached_input_per_million=1_000_000_000,
            cache_write_per_million=3_000_000_000,
            reasoning_per_million=16_000_000_000,
        )
    )
    record = usage(
        FEB,
        input_tokens=1_000_000,
        cached_tokens=200_000,
        cache_write_tokens=100_000,
        output_tokens=500_000,
        reasoning_tokens=100_000,
    )

    cost = await charged(book, record)

    assert cost == Money(
        "USD",
        800_000 * 2_000  # uncached input: 0.8 M tokens at $2/M
        + 200_000 * 1_000  # cache reads at $1/M
        + 100_000 * 3_000  # cache writes at $3/M
        + 400_000 * 8_000  # plain output at $8/M
        + 100_000 * 16_000,  # reasoning at $16/M
    )


async def test_without_separate_prices_cached_and_reasoning_tokens_cost_input_and_output(
    book: PriceBook,
) -> None:
    await book.set_price(price(JAN, input_nanos=1_000, output_per_million=10_000))
    record = usage(
        FEB,
        input_tokens=3_000_000,
        cached_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        output_tokens=2_000_000,
        reasoning_tokens=1_000_000,
    )

    assert await charged(book, record) == Money("USD", 3_000 + 1_000 + 20_000)


async def test_the_provider_price_wins_over_the_public_name_and_the_default(
    book: PriceBook,
) -> None:
    record = usage(FEB, model="chat", provider="openai", upstream_model="gpt-4o")
    default = await book.price_for(record)
    assert default is not None
    assert default.source == "default"
    assert default.input_per_million == 2_500_000_000

    public = await book.set_price(price(JAN, 7, provider="", model="chat"))
    assert await book.price_for(record) == public

    specific = await book.set_price(price(JAN, 5, provider="openai", model="gpt-4o"))
    assert await book.price_for(record) == specific
    assert specific.source == "operator"
    assert specific.id is not None


async def test_an_unknown_model_has_no_price(book: PriceBook) -> None:
    assert await book.price_for(usage(FEB, provider="mock", upstream_model="mock-1")) is None
    assert await book.price_for(usage(FEB, provider="openai", upstream_model="nope-9")) is None


async def test_a_record_without_an_upstream_model_is_looked_up_by_its_model(
    book: PriceBook,
) -> None:
    record = usage(FEB, provider="openai", model="gpt-4o-mini", upstream_model="")

    found = await book.price_for(record)

    assert found is not None
    assert found.input_per_million == 150_000_000


async def test_long_prompts_are_priced_at_the_long_context_tier(book: PriceBook) -> None:
    def call(tokens: int) -> UsageRecord:
        return usage(
            FEB, provider="anthropic", upstream_model="claude-sonnet-4-5", input_tokens=tokens
        )

    short, long = await book.price_for(call(1_000)), await book.price_for(call(300_000))

    assert short is not None
    assert long is not None
    assert long.input_per_million > short.input_per_million


async def test_a_bad_price_lists_every_bad_field(book: PriceBook) -> None:
    bad = PriceRow(
        provider="p" * 201,
        model="",
        valid_from=datetime(2025, 1, 1),
        currency="usd",
        input_per_million=-1,
        output_per_million=2**63,
        reasoning_per_million=-5,
    )

    with pytest.raises(InvalidArgument) as raised:
        await book.set_price(bad)

    assert {v.field for v in raised.value.violations} == {
        "price.provider",
        "price.model",
        "price.valid_from",
        "price.currency_code",
        "price.input_per_million",
        "price.output_per_million",
        "price.reasoning_per_million",
    }
    assert await book.list_prices() == []


async def test_set_price_stores_an_operator_row_whatever_source_it_is_given(
    book: PriceBook,
) -> None:
    stored = await book.set_price(price(JAN, 1, source="default"))

    assert stored.source == "operator"
    assert await book.list_prices(provider="acme", model="acme-large") == [stored]


async def test_another_replicas_change_is_seen_within_the_refresh_interval(
    store: PriceStore, defaults: DefaultPrices, clock: FakeClock
) -> None:
    here = PriceBook(store, defaults, clock=clock, refresh_seconds=REFRESH)
    there = PriceBook(store, defaults, clock=clock, refresh_seconds=REFRESH)
    await here.set_price(price(JAN, 1))
    assert (await there.price_for(usage(FEB))).input_per_million == 1  # type: ignore[union-attr]

    await here.set_price(price(FEB, 2))
    clock.advance(REFRESH - 0.001)
    stale = await there.price_for(usage(FEB))
    clock.advance(0.001)
    fresh = await there.price_for(usage(FEB))

    assert stale is not None
    assert stale.input_per_million == 1
    assert fresh is not None
    assert fresh.input_per_million == 2
    assert (await here.price_for(usage(FEB))).input_per_million == 2  # type: ignore[union-attr]


async def test_concurrent_lookups_on_a_stale_cache_read_the_table_once(
    book: PriceBook, store: CountingStore, clock: FakeClock
) -> None:
    await book.set_price(price(JAN, 1))
    clock.advance(REFRESH)
    reads = store.reads

    found = await asyncio.gather(*(book.price_for(usage(FEB)) for _ in range(50)))

    assert store.reads == reads + 1
    assert {row.input_per_million for row in found if row is not None} == {1}


async def test_get_price_is_the_operators_then_the_default_price(
    book: PriceBook, clock: FakeClock
) -> None:
    await book.set_price(price(FEB, 9, provider="openai", model="gpt-4o"))

    before = await book.get_price("openai", "gpt-4o", JAN)
    after = await book.get_price("openai", "gpt-4o", FEB)
    clock.now = FEB.timestamp()
    now = await book.get_price("openai", "gpt-4o")

    assert (before.source, before.input_per_million) == ("default", 2_500_000_000)
    assert (after.source, after.input_per_million) == ("operator", 9)
    assert now == after


async def test_get_price_of_an_unknown_model_is_not_found(book: PriceBook) -> None:
    with pytest.raises(NotFound):
        await book.get_price("mock", "mock-1", FEB)


async def test_without_a_default_table_only_operator_prices_apply(
    store: PriceStore, clock: FakeClock
) -> None:
    book = PriceBook(store, clock=clock)
    await book.set_price(price(JAN, 4))

    assert await book.price_for(usage(FEB, provider="openai", upstream_model="gpt-4o")) is None
    assert (await book.get_price("acme", "acme-large", FEB)).input_per_million == 4
    with pytest.raises(NotFound):
        await book.get_price("openai", "gpt-4o", FEB)
