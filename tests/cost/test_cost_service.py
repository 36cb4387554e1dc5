"""The cost service over gRPC, in both modes: usage recorded once and priced at the price of
its time, bad input refused with nothing written, budgets checked and reserved, alerts
watched, spend reported and exported."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

import grpc
import pytest
from switchboard.cost.v1 import cost_service_pb2 as pb

from .conftest import StartCost
from .cost_calls import NOW, at, event, fields_of, house_price

pytestmark = pytest.mark.slow

DAY = timedelta(days=1)


async def test_usage_is_recorded_once_and_priced_at_the_price_of_its_time(
    start_cost: StartCost,
) -> None:
    async with start_cost() as c:
        await c.stub.SetPrice(
            pb.SetPriceRequest(price=house_price(2_000_000_000, 8_000_000_000, NOW - 2 * DAY))
        )
        await c.stub.SetPrice(
            pb.SetPriceRequest(price=house_price(4_000_000_000, 16_000_000_000, NOW - DAY))
        )
        first = await c.stub.RecordUsage(
            pb.RecordUsageRequest(
                events=[
                    event("old", when=NOW - DAY - timedelta(hours=1)),
                    event("new"),
                    event("free", provider="nobody", upstream_model="unknown", model="unknown"),
                ]
            )
        )
        again = await c.stub.RecordUsage(pb.RecordUsageRequest(events=[event("new")]))
        spend = await c.stub.GetSpend(
            pb.GetSpendRequest(start=at(NOW - 3 * DAY), end=at(NOW + DAY))
        )
        unpriced = c.metric("cost_unpriced_events_total", provider="nobody")
    old, new, free = first.results
    # 1,000 input and 500 output tokens: at 2 and 8 USD per million, 0.002 + 0.004 USD.
    assert (old.recorded, old.cost.nanos) == (True, 6_000_000)
    assert (new.recorded, new.cost.nanos) == (True, 12_000_000)
    assert (free.recorded, free.cost_unknown) == (True, True)
    (duplicate,) = again.results
    assert (duplicate.recorded, duplicate.cost_unknown) == (False, False)
    assert spend.total.nanos == 18_000_000
    assert spend.rows[0].requests == 3
    assert spend.rows[0].unpriced_requests == 1
    assert unpriced == 1


async def test_history_of_prices_cannot_be_rewritten(start_cost: StartCost) -> None:
    async with start_cost() as c:
        await c.stub.SetPrice(pb.SetPriceRequest(price=house_price(1, 1, NOW)))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await c.stub.SetPrice(pb.SetPriceRequest(price=house_price(2, 2, NOW - DAY)))
        listed = await c.stub.ListPrices(pb.ListPricesRequest(provider="house"))
        current = await c.stub.GetPrice(pb.GetPriceRequest(provider="house", model="house-1"))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert [p.input_per_million for p in listed.prices] == [1]
    assert current.price.source == "operator"


async def test_default_prices_come_from_the_maintained_table(start_cost: StartCost) -> None:
    async with start_cost() as c:
        price = (await c.stub.GetPrice(pb.GetPriceRequest(provider="openai", model="gpt-4o"))).price
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await c.stub.GetPrice(pb.GetPriceRequest(provider="openai", model="no-such-model"))
    assert price.source == "default"
    assert price.input_per_million > 0
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        (event("neg", input_tokens=-1), ["events[1].input_tokens"]),
        (event(""), ["events[1].request_id"]),
        (pb.UsageEvent(request_id="no-time", outcome="success"), ["events[1].occurred_at"]),
        (
            event("odd", outcome="maybe", cached_tokens=5000),
            ["events[1].outcome", "events[1].cached_tokens"],
        ),
    ],
    ids=["negative-tokens", "empty-request-id", "no-time", "bad-outcome-and-cache"],
)
async def test_a_bad_event_refuses_the_whole_batch_and_nothing_is_written(
    start_cost: StartCost, bad: pb.UsageEvent, fields: list[str]
) -> None:
    async with start_cost() as c:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await c.stub.RecordUsage(pb.RecordUsageRequest(events=[event("good"), bad]))
        after = await c.stub.RecordUsage(pb.RecordUsageRequest(events=[event("good")]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields_of(caught.value) == fields
    assert after.results[0].recorded  # the good event of the refused batch was not written


async def test_unknown_currencies_are_refused_for_prices_and_budgets(start_cost: StartCost) -> None:
    async with start_cost() as c:
        price = house_price(1, 1, NOW)
        price.currency_code = "DOGE"
        with pytest.raises(grpc.aio.AioRpcError) as bad_price:
            await c.stub.SetPrice(pb.SetPriceRequest(price=price))
        budget = pb.Budget(
            scope="tenants/acme",
            period=pb.BUDGET_PERIOD_DAILY,
            limit=pb.Money(currency_code="doge", nanos=1),
            hard=True,
        )
        with pytest.raises(grpc.aio.AioRpcError) as bad_budget:
            await c.stub.CreateBudget(pb.CreateBudgetRequest(budget=budget))
        listed = await c.stub.ListBudgets(pb.ListBudgetsRequest())
    assert bad_price.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields_of(bad_price.value) == ["price.currency_code"]
    assert bad_budget.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "budget.limit.currency_code" in fields_of(bad_budget.value)
    assert list(listed.statuses) == []


async def test_a_hard_budget_admits_reserves_refuses_and_alerts_once_per_threshold(
    start_cost: StartCost,
) -> None:
    async with start_cost() as c:
        await c.stub.SetPrice(
            pb.SetPriceRequest(price=house_price(2_000_000_000, 8_000_000_000, NOW - DAY))
        )
        budget = (
            await c.stub.CreateBudget(
                pb.CreateBudgetRequest(
                    budget=pb.Budget(
                        scope="users/u1",
                        period=pb.BUDGET_PERIOD_MONTHLY,
                        time_zone="Europe/Paris",
                        limit=pb.Money(currency_code="USD", nanos=18_000_000),
                        hard=True,
                        thresholds=[50, 100],
                    )
                )
            )
        ).budget
        watch = c.stub.WatchAlerts(pb.WatchAlertsRequest(scope="users/u1"))
        check = pb.CheckBudgetRequest(
            user="u1",
            model="house-model",
            provider="house",
            upstream_model="house-1",
            input_tokens=1000,
            max_output_tokens=500,
        )
        admitted = []
        for i in range(4):
            check.request_id = f"call-{i}"
            admitted.append(await c.stub.CheckBudget(check))
        status = (await c.stub.GetBudget(pb.GetBudgetRequest(budget_id=budget.budget_id))).status
        await c.stub.RecordUsage(
            pb.RecordUsageRequest(events=[event("call-0"), event("call-1"), event("call-2")])
        )
        raised = [await asyncio.wait_for(watch.read(), 10) for _ in range(2)]
        watch.cancel()
        released = await c.stub.ReleaseBudgetReservation(
            pb.ReleaseBudgetReservationRequest(request_id="call-3")
        )
        after = (await c.stub.GetBudget(pb.GetBudgetRequest(budget_id=budget.budget_id))).status
        listed = await c.stub.ListAlerts(pb.ListAlertsRequest(budget_id=budget.budget_id))
    # Each call's worst case is 0.006 USD: three fit in 0.018, the fourth does not.
    assert [a.allowed for a in admitted] == [True, True, True, False]
    assert admitted[0].reserved.nanos == 6_000_000
    assert [s.budget.budget_id for s in admitted[3].exceeded] == [budget.budget_id]
    assert (status.spent.nanos, status.reserved.nanos) == (0, 18_000_000)
    assert sorted(r.alert.threshold for r in raised) == [50, 100]
    assert not released.released  # call-3 was refused: it never held a reservation
    assert (after.spent.nanos, after.reserved.nanos) == (18_000_000, 0)
    assert sorted(a.threshold for a in listed.alerts) == [50, 100]


async def test_budget_requests_are_checked(start_cost: StartCost) -> None:
    async with start_cost() as c:
        with pytest.raises(grpc.aio.AioRpcError) as check:
            await c.stub.CheckBudget(pb.CheckBudgetRequest(input_tokens=-1))
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await c.stub.GetBudget(pb.GetBudgetRequest(budget_id="0" * 32))
        with pytest.raises(grpc.aio.AioRpcError) as malformed:
            await c.stub.DeleteBudget(pb.DeleteBudgetRequest(budget_id="x"))
    assert fields_of(check.value) == ["request_id", "model", "input_tokens"]
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_spend_is_grouped_exported_and_rebuilt_from_the_ledger(
    start_cost: StartCost,
) -> None:
    async with start_cost() as c:
        await c.stub.SetPrice(
            pb.SetPriceRequest(price=house_price(2_000_000_000, 8_000_000_000, NOW - DAY))
        )
        await c.stub.RecordUsage(
            pb.RecordUsageRequest(
                events=[
                    event("a", flag_variants={"new-model": "on"}),
                    event("b", subject="users/u2", user="u2"),
                    event("c", prompt_name="greet", prompt_version=2),
                ]
            )
        )
        query = pb.GetSpendRequest(
            start=at(NOW - DAY),
            end=at(NOW + DAY),
            group_by=[pb.SPEND_DIMENSION_SUBJECT, pb.SPEND_DIMENSION_DAY],
        )
        grouped = await c.stub.GetSpend(query)
        by_flag = await c.stub.GetSpend(
            pb.GetSpendRequest(
                start=at(NOW - DAY), end=at(NOW + DAY), group_by=[pb.SPEND_DIMENSION_FLAG_VARIANT]
            )
        )
        exported = await c.stub.ExportSpend(pb.ExportSpendRequest(query=query, format="csv"))
        rebuilt = await c.stub.RebuildAggregates(pb.RebuildAggregatesRequest())
        again = await c.stub.GetSpend(query)
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await c.stub.GetSpend(pb.GetSpendRequest(start=at(NOW), end=at(NOW - DAY)))
    assert {(r.group["subject"], r.requests) for r in grouped.rows} == {
        ("users/u1", 2),
        ("users/u2", 1),
    }
    assert grouped.total.nanos == 18_000_000
    assert [(r.group["flag_variant"], r.requests) for r in by_flag.rows] == [("new-model=on", 1)]
    assert exported.content_type.startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.data.decode())))
    assert sorted(row["subject"] for row in table) == ["users/u1", "users/u2"]
    assert rebuilt.events == 3
    assert again == grouped
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_hard_budget_admits_no_more_concurrent_calls_than_it_can_pay_for(
    start_cost: StartCost,
) -> None:
    """The budget race: 100 concurrent checks against a hard budget worth 10 calls admit
    exactly 10 (the tolerance is zero while calls cost no more than their estimate)."""
    async with start_cost() as c:
        await c.stub.SetPrice(
            pb.SetPriceRequest(price=house_price(2_000_000_000, 8_000_000_000, NOW - DAY))
        )
        await c.stub.CreateBudget(
            pb.CreateBudgetRequest(
                budget=pb.Budget(
                    scope="tenants/acme",
                    period=pb.BUDGET_PERIOD_DAILY,
                    limit=pb.Money(currency_code="USD", nanos=10 * 6_000_000),
                    hard=True,
                )
            )
        )

        async def check(i: int) -> bool:
            request = pb.CheckBudgetRequest(
                request_id=f"race-{i}",
                tenant="acme",
                model="house-model",
                provider="house",
                upstream_model="house-1",
                input_tokens=1000,
                max_output_tokens=500,
            )
            return bool((await c.stub.CheckBudget(request)).allowed)

        admitted = await asyncio.gather(*(check(i) for i in range(100)))
    assert sum(admitted) == 10
