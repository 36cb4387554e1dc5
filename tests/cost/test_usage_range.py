"""Usage events outside what the ledger can book (a time near datetime's end, token counts
whose price would overflow its integers) are refused up front, field by field: RecordUsage
answers INVALID_ARGUMENT and writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from switchboard.cost.v1 import cost_service_pb2 as pb

from services.cost.usage import UsageRecord
from services.cost.usage_validation import TOKENS_MAX, validate_records
from svckit.errors import InvalidArgument

from .conftest import StartCost
from .cost_calls import event, fields_of


def record(**fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": "r1",
        "occurred_at": datetime(2026, 5, 1, tzinfo=UTC),
        "input_tokens": 100,
        "output_tokens": 50,
        **fields,
    }
    return UsageRecord(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        {"occurred_at": datetime(2000, 1, 1, tzinfo=UTC)},
        {"occurred_at": datetime(8999, 12, 31, 23, 59, tzinfo=UTC)},
        {"input_tokens": TOKENS_MAX, "output_tokens": TOKENS_MAX, "cache_write_tokens": TOKENS_MAX},
    ],
    ids=["first-instant", "last-day", "most-tokens"],
)
def test_the_ledgers_range_is_accepted_to_its_bounds(fields: dict[str, object]) -> None:
    validate_records([record(**fields)])


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"occurred_at": datetime(1999, 12, 31, 23, 59, tzinfo=UTC)}, "occurred_at"),
        ({"occurred_at": datetime(9000, 1, 1, tzinfo=UTC)}, "occurred_at"),
        ({"input_tokens": TOKENS_MAX + 1}, "input_tokens"),
        ({"cache_write_tokens": 2**63 - 1}, "cache_write_tokens"),
    ],
    ids=["before-2000", "from-9000", "input-tokens", "cache-write-tokens"],
)
def test_values_beyond_the_ledgers_range_are_field_violations(
    fields: dict[str, object], bad: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        validate_records([record(**fields)])

    assert [v.field for v in caught.value.violations] == [f"events[0].{bad}"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bad", "fields"),
    [
        (event("late", when=datetime(9999, 12, 20, tzinfo=UTC)), ["events[1].occurred_at"]),
        (event("early", when=datetime(1999, 12, 31, tzinfo=UTC)), ["events[1].occurred_at"]),
        (event("many", input_tokens=10**15), ["events[1].input_tokens"]),
    ],
    ids=["year-9999", "before-2000", "too-many-tokens"],
)
async def test_rpc_refuses_events_beyond_the_ledgers_range_and_writes_nothing(
    start_cost: StartCost, bad: pb.UsageEvent, fields: list[str]
) -> None:
    async with start_cost() as c:
        await c.stub.CreateBudget(
            pb.CreateBudgetRequest(
                budget=pb.Budget(
                    scope="tenants/acme",
                    period=pb.BUDGET_PERIOD_MONTHLY,
                    limit=pb.Money(currency_code="USD", nanos=10**15),
                    hard=True,
                )
            )
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await c.stub.RecordUsage(pb.RecordUsageRequest(events=[event("good"), bad]))
        after = await c.stub.RecordUsage(
            pb.RecordUsageRequest(events=[event("good"), event(bad.request_id)])
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fields_of(caught.value) == fields
    assert [r.recorded for r in after.results] == [True, True]  # neither was written before
