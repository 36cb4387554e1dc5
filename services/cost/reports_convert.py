"""The spend report RPCs' messages to a `SpendQuery` and a `SpendResult` back to protobuf.

An unset `start` means the start of the current UTC month, an unset `end` means now: the
question a dashboard asks most ("spend this month so far").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from switchboard.cost.v1 import cost_service_pb2 as pb

from services.cost.convert import money
from services.cost.money import Money
from services.cost.reports.query import Dimension, SpendQuery
from services.cost.reports.spend import SpendResult


def spend_query(request: pb.GetSpendRequest, now: Callable[[], datetime]) -> SpendQuery:
    current = now()
    start = (
        request.start.ToDatetime(tzinfo=UTC)
        if request.HasField("start")
        else current.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    )
    end = request.end.ToDatetime(tzinfo=UTC) if request.HasField("end") else current
    return SpendQuery(
        start=start,
        end=end,
        group_by=tuple(Dimension.from_proto(d) for d in request.group_by),
        tenant=request.tenant,
        subject=request.subject,
        model=request.model,
    )


def spend_response(result: SpendResult) -> pb.GetSpendResponse:
    rows = [
        pb.SpendRow(
            group={**row.group, "currency": row.currency},
            cost=money(row.cost),
            input_tokens=row.measures.input_tokens,
            output_tokens=row.measures.output_tokens,
            cached_tokens=row.measures.cached_tokens,
            requests=row.measures.requests,
            unpriced_requests=row.measures.unpriced_requests,
            latency_ms_total=row.measures.latency_ms,
            mean_latency_ms=row.measures.mean_latency_ms,
        )
        for row in result.rows
    ]
    totals = [
        money(Money(currency, measures.cost_nanos))
        for currency, measures in sorted(result.totals.items())
    ]
    response = pb.GetSpendResponse(rows=rows, totals=totals)
    total = result.total()
    if total is not None:
        response.total.CopyFrom(money(total))
    return response
