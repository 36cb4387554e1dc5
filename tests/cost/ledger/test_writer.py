"""The ledger writer on SQLite and PostgreSQL: each event counted once, exactly, whatever
delivers it twice, with its hooks in the same transaction."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.cost.database import create_engine
from services.cost.ledger.rows import UnstorableUsage
from services.cost.ledger.writer import LedgerMetrics, LedgerWriter, is_transient
from services.cost.money import Money
from services.cost.price import PriceRow, cost_of
from services.cost.pricing.default_prices import load_default_prices
from services.cost.pricing.price_book import PriceBook
from services.cost.pricing.price_store import PriceStore
from services.cost.tables import ledger, spend_daily
from services.cost.usage import UsageRecord
from tests.cost.ledger.conftest import CLAUDE, GPT, T0, DictPricer, RememberingHook, usage
from tests.cost.ledger.lost_answer_proxy import LostAnswerProxy


async def ledger_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(ledger)) or 0)


async def ledger_total(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.sum(ledger.c.cost_nanos))) or 0)


async def daily_totals(engine: AsyncEngine) -> tuple[int, int, int, int]:
    c = spend_daily.c
    query = select(
        func.sum(c.cost_nanos),
        func.sum(c.requests),
        func.sum(c.unpriced_requests),
        func.sum(c.input_tokens),
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).one()
    return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0))


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_an_event_is_recorded_once_with_its_exact_cost(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    event = usage("req-1")
    expected = cost_of(event, GPT)

    first = await writer.record([event])
    again = await writer.record([event])

    assert [(o.request_id, o.recorded, o.cost) for o in first] == [("req-1", True, expected)]
    assert [(o.recorded, o.cost) for o in again] == [(False, None)]
    assert await ledger_count(engine) == 1
    assert await ledger_total(engine) == expected.nanos
    assert await daily_totals(engine) == (expected.nanos, 1, 0, 1_234)


async def test_the_ledger_row_keeps_the_event_its_price_and_when_it_was_recorded(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    event = usage("req-row", user="ann", api_key_id="k1", flag_variants={"exp": "b"})
    await writer.record([event])

    async with engine.connect() as conn:
        row = (await conn.execute(select(ledger))).mappings().one()
    assert row["price_id"] == GPT.id
    assert (row["user"], row["api_key_id"], row["currency"]) == ("ann", "k1", "USD")
    assert row["flag_variants"] == '{"exp": "b"}'
    assert row["recorded_at"].replace(tzinfo=None) == T0.replace(tzinfo=None)


async def test_a_duplicate_within_one_call_counts_once_and_the_first_wins(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    outcomes = await writer.record([usage("dup", input_tokens=10), usage("dup", input_tokens=99)])

    assert [o.recorded for o in outcomes] == [True, False]
    async with engine.connect() as conn:
        assert await conn.scalar(select(ledger.c.input_tokens)) == 10


async def test_two_callers_sending_the_same_event_at_once_record_it_once(
    writer: LedgerWriter, engine: AsyncEngine, registry: CollectorRegistry
) -> None:
    results = await asyncio.gather(*(writer.record([usage("same")]) for _ in range(5)))

    assert sorted(r[0].recorded for r in results) == [False] * 4 + [True]
    assert await ledger_count(engine) == 1
    assert sample(registry, "cost_events_recorded_total") == 1
    assert sample(registry, "cost_events_duplicate_total") == 4


async def test_an_unknown_model_is_recorded_with_an_unknown_cost_and_counted(
    writer: LedgerWriter, engine: AsyncEngine, registry: CollectorRegistry
) -> None:
    event = usage("mystery-1", provider="mystery", model="m", upstream_model="m")

    [outcome] = await writer.record([event])

    assert (outcome.recorded, outcome.cost) == (True, None)
    async with engine.connect() as conn:
        row = (await conn.execute(select(ledger.c.cost_nanos, ledger.c.currency))).one()
    assert tuple(row) == (None, "USD")
    assert await daily_totals(engine) == (0, 1, 1, 1_234)
    assert sample(registry, "cost_unpriced_events_total", provider="mystery") == 1


async def test_unpriced_provider_labels_stay_bounded(registry: CollectorRegistry) -> None:
    metrics = LedgerMetrics(registry)
    for i in range(70):
        metrics.count_unpriced(f"provider-{i}")
    metrics.count_unpriced("")

    assert sample(registry, "cost_unpriced_events_total", provider="other") == 7
    assert sample(registry, "cost_unpriced_events_total", provider="provider-0") == 1


async def test_hooks_see_only_new_events_and_see_them_inside_the_transaction(
    writer: LedgerWriter, hook: RememberingHook
) -> None:
    await writer.record([usage("a")])
    await writer.record([usage("a"), usage("b"), usage("b")])

    assert [[p.record.request_id for p in call] for call in hook.seen] == [["a"], ["b"]]
    assert hook.visible == [1, 1]
    assert [[p.record.request_id for p in call] for call in hook.committed] == [["a"], ["b"]]
    assert hook.seen[0][0].cost == cost_of(usage("a"), GPT)
    assert hook.seen[0][0].price_id == GPT.id


async def test_a_batch_of_only_duplicates_calls_no_hook(
    writer: LedgerWriter, hook: RememberingHook
) -> None:
    await writer.record([usage("a")])
    await writer.record([usage("a")])

    assert len(hook.seen) == 1
    assert len(hook.committed) == 1


async def test_a_hook_failure_rolls_the_whole_batch_back(
    writer: LedgerWriter, engine: AsyncEngine, hook: RememberingHook
) -> None:
    hook.fail_on = "b"

    with pytest.raises(RuntimeError, match="refused"):
        await writer.record([usage("a"), usage("b")])

    assert await ledger_count(engine) == 0
    assert await daily_totals(engine) == (0, 0, 0, 0)
    assert hook.committed == []
    hook.fail_on = None
    outcomes = await writer.record([usage("a"), usage("b")])
    assert [o.recorded for o in outcomes] == [True, True]


async def test_one_callers_failure_does_not_fail_the_callers_batched_with_it(
    writer: LedgerWriter, engine: AsyncEngine, hook: RememberingHook
) -> None:
    hook.fail_on = "bad"

    good, bad = await asyncio.gather(
        writer.record([usage("good")]), writer.record([usage("bad")]), return_exceptions=True
    )

    assert {p.record.request_id for p in hook.seen[0]} == {"good", "bad"}  # one batch at first
    assert isinstance(good, list)
    assert good[0].recorded
    assert isinstance(bad, RuntimeError)
    assert await ledger_count(engine) == 1


async def test_a_failing_after_commit_hook_does_not_fail_the_write(
    writer: LedgerWriter, engine: AsyncEngine, hook: RememberingHook
) -> None:
    hook.fail_after_commit = True

    [outcome] = await writer.record([usage("a")])

    assert outcome.recorded
    assert await ledger_count(engine) == 1


async def test_an_event_the_ledger_cannot_hold_is_refused_before_anything_is_written(
    writer: LedgerWriter, engine: AsyncEngine
) -> None:
    with pytest.raises(UnstorableUsage, match="tenant is longer than 200"):
        await writer.record([usage("fine"), usage("long", tenant="t" * 201)])
    with pytest.raises(UnstorableUsage, match="request_id"):
        await writer.record([usage("")])
    with pytest.raises(UnstorableUsage, match="input_tokens"):
        await writer.record([usage("neg", input_tokens=-1)])
    with pytest.raises(UnstorableUsage, match="timezone"):
        await writer.record([usage("naive", occurred_at=T0.replace(tzinfo=None))])
    with pytest.raises(UnstorableUsage, match="flag keys"):
        await writer.record([usage("flag", flag_variants={"f" * 201: "on"})])
    with pytest.raises(UnstorableUsage, match="outcome"):
        await writer.record([usage("outcome", outcome="x" * 17)])

    assert await ledger_count(engine) == 0


async def test_an_empty_call_records_nothing(writer: LedgerWriter) -> None:
    assert await writer.record([]) == []


async def test_a_closed_writer_refuses_events(writer: LedgerWriter) -> None:
    await writer.aclose()

    with pytest.raises(RuntimeError, match="closed"):
        await writer.record([usage("late")])


async def test_a_call_larger_than_a_batch_is_split_and_answered_in_order(
    writer: LedgerWriter, engine: AsyncEngine, hook: RememberingHook
) -> None:
    events = [usage(f"big-{i:04d}") for i in range(1_200)]

    outcomes = await writer.record(events)

    assert [o.request_id for o in outcomes] == [e.request_id for e in events]
    assert all(o.recorded for o in outcomes)
    assert max(len(call) for call in hook.seen) <= 500
    assert await ledger_count(engine) == 1_200


async def test_a_batch_asks_the_pricer_once_per_model_and_end_of_the_time_range(
    writer: LedgerWriter, pricer: DictPricer
) -> None:
    events = [usage(f"p-{i}", occurred_at=T0 + timedelta(seconds=i)) for i in range(300)]

    await writer.record(events)

    assert pricer.lookups == 2


async def test_events_on_both_sides_of_a_price_change_keep_their_own_price(
    writer: LedgerWriter, pricer: DictPricer, engine: AsyncEngine
) -> None:
    change = T0 + timedelta(seconds=50)
    pricer.rows.append(PriceRow("openai", "gpt-4o", change, "USD", 7_777, 99_999, id=3))
    events = [usage(f"c-{i:03d}", occurred_at=T0 + timedelta(seconds=i)) for i in range(100)]

    outcomes = await writer.record(events)

    new = PriceRow("openai", "gpt-4o", change, "USD", 7_777, 99_999, id=3)
    expected = [cost_of(e, new if e.occurred_at >= change else GPT) for e in events]
    assert [o.cost for o in outcomes] == expected
    assert await ledger_total(engine) == sum(m.nanos for m in expected)


async def test_a_long_context_call_batched_with_short_ones_pays_its_own_tier(
    engine: AsyncEngine, registry: CollectorRegistry
) -> None:
    """The default table's prices depend on each call's input tokens (long-context tiers), so
    one price per model and time range does not hold for it."""
    book = PriceBook(PriceStore(engine), load_default_prices())
    writer = LedgerWriter(engine, book, [], LedgerMetrics(registry), max_delay=0.002)
    sizes = (1_000, 500_000, 1_000)
    model = {"model": "gemini-2.5-pro", "provider": "google", "upstream_model": "gemini-2.5-pro"}
    events = [
        usage(f"tier-{i}", occurred_at=T0 + timedelta(seconds=i), input_tokens=n, **model)
        for i, n in enumerate(sizes)
    ]
    try:
        outcomes = await writer.record(events)
    finally:
        await writer.aclose()

    short, long = await book.price_for(events[0]), await book.price_for(events[1])
    assert short is not None
    assert long is not None
    assert long.input_per_million > short.input_per_million  # the long-context tier
    assert [o.cost for o in outcomes] == [
        cost_of(e, p) for e, p in zip(events, (short, long, short), strict=True)
    ]


async def test_many_concurrent_callers_with_duplicates_are_counted_exactly(
    writer: LedgerWriter, engine: AsyncEngine, registry: CollectorRegistry
) -> None:
    rng = random.Random(4)
    unique = [
        usage(
            f"conc-{i:05d}",
            input_tokens=rng.randrange(0, 5_000),
            output_tokens=rng.randrange(0, 2_000),
            cached_tokens=0,
            **(
                {"provider": "anthropic", "model": "claude", "upstream_model": "claude"}
                if i % 3 == 0
                else {}
            ),
        )
        for i in range(8_000)
    ]
    sent: list[list[UsageRecord]] = [unique[t * 160 : (t + 1) * 160] for t in range(50)]
    for events in sent:  # 40 duplicates per caller, of anybody's events: 20% of 200
        events.extend(rng.choice(unique) for _ in range(40))
        rng.shuffle(events)

    results = await asyncio.gather(*(writer.record(events) for events in sent))

    expected = sum(cost_of(e, CLAUDE if e.model == "claude" else GPT).nanos for e in unique)
    assert sum(o.recorded for outcomes in results for o in outcomes) == 8_000
    assert sum(o.cost.nanos for r in results for o in r if o.cost) == expected
    assert await ledger_count(engine) == 8_000
    assert await ledger_total(engine) == expected
    totals = await daily_totals(engine)
    assert totals[:3] == (expected, 8_000, 0)
    assert totals[3] == sum(e.input_tokens for e in unique)
    assert sample(registry, "cost_events_recorded_total") == 8_000
    assert sample(registry, "cost_events_duplicate_total") == 2_000


class ConnectionKiller:
    """A hook that ends its own PostgreSQL connection (a real lost connection) `times` times."""

    def __init__(self, times: int) -> None:
        self.times = times

    async def in_transaction(self, conn: AsyncConnection, recorded: object) -> None:
        if self.times > 0:
            self.times -= 1
            await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    async def after_commit(self, recorded: object) -> None:
        return None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_lost_connection_is_retried_and_the_batch_written_once(
    engine: AsyncEngine, pricer: DictPricer, registry: CollectorRegistry
) -> None:
    writer = LedgerWriter(
        engine, pricer, [ConnectionKiller(2)], LedgerMetrics(registry), retry_delays=(0, 0, 0)
    )

    outcomes = await writer.record([usage("a"), usage("b")])

    assert [o.recorded for o in outcomes] == [True, True]
    assert await ledger_count(engine) == 2
    assert sample(registry, "cost_ledger_retries_total") == 2
    await writer.aclose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_commit_whose_answer_is_lost_counts_its_events_and_runs_after_commit(
    engine: AsyncEngine, database_url: str, pricer: DictPricer, registry: CollectorRegistry
) -> None:
    """The database commits, then the connection drops before the answer arrives: the retry
    finds the events there, stamped by the first attempt, and the budgets' after-commit work
    (settling reservations, delivering alerts) still runs for them."""
    url = make_url(database_url)
    proxy = LostAnswerProxy(url.port or 5432)
    await proxy.start()
    through_proxy = url.set(port=proxy.port, query={"ssl": "disable"})
    proxied = create_engine(through_proxy.render_as_string(hide_password=False))
    hook = RememberingHook()
    writer = LedgerWriter(proxied, pricer, [hook], LedgerMetrics(registry), retry_delays=(0, 0))
    proxy.lose_next_commit_answer()
    try:
        outcomes = await writer.record([usage("a"), usage("b")])
    finally:
        await writer.aclose()
        await proxied.dispose()
        await proxy.stop()

    assert proxy.lost_answers == 1
    assert sample(registry, "cost_ledger_retries_total") == 1
    assert [o.recorded for o in outcomes] == [True, True]
    assert [[p.record.request_id for p in call] for call in hook.committed] == [["a", "b"]]
    assert await ledger_count(engine) == 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_batch_that_keeps_failing_reaches_its_callers_and_writes_nothing(
    engine: AsyncEngine, pricer: DictPricer, registry: CollectorRegistry
) -> None:
    writer = LedgerWriter(
        engine, pricer, [ConnectionKiller(99)], LedgerMetrics(registry), retry_delays=(0, 0)
    )

    results = await asyncio.gather(
        writer.record([usage("a")]), writer.record([usage("b")]), return_exceptions=True
    )

    assert all(isinstance(r, sa_exc.DBAPIError) for r in results)
    assert await ledger_count(engine) == 0
    await writer.aclose()


def test_only_failures_a_retry_can_cure_count_as_transient() -> None:
    class Orig(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    def dbapi(sqlstate: str) -> sa_exc.DBAPIError:
        return sa_exc.DBAPIError("INSERT", {}, Orig(sqlstate))

    assert is_transient(dbapi("40P01"))
    assert is_transient(dbapi("40001"))
    assert is_transient(dbapi("08006"))
    assert is_transient(ConnectionResetError())
    assert not is_transient(dbapi("23505"))
    assert not is_transient(RuntimeError("hook"))


def test_the_writer_refuses_a_batch_size_of_zero(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        LedgerWriter(engine, DictPricer(), [], LedgerMetrics(CollectorRegistry()), max_batch=0)


def test_money_is_integer_nanos() -> None:
    assert cost_of(usage("m", input_tokens=1, output_tokens=0, cached_tokens=0), GPT) == Money(
        "USD", 0
    )
