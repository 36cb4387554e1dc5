"""The switchboard.cost.v1 servicer: convert, validate, call one domain object, convert back."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.api import httpbody_pb2
from sqlalchemy.ext.asyncio import AsyncEngine
from switchboard.cost.v1 import cost_service_pb2 as pb
from switchboard.cost.v1 import cost_service_pb2_grpc as pb_grpc

from services.cost import budget_convert, price_convert, reports_convert
from services.cost.budgets.alerts import AlertFeed, list_alerts
from services.cost.budgets.checker import BudgetChecker
from services.cost.budgets.store import BudgetStore
from services.cost.convert import money, usage_record
from services.cost.ledger.aggregates import rebuild
from services.cost.ledger.writer import LedgerWriter
from services.cost.pricing.price_book import PriceBook
from services.cost.reports.export import export_spend
from services.cost.reports.spend import SpendReport
from services.cost.usage_validation import REQUEST_ID, validate_records
from svckit.caller import caller_tenant
from svckit.errors import InvalidArgument, Violations

SERVICE_NAME = "switchboard.cost.v1.CostService"
BUDGET_ID = re.compile(r"^[0-9a-f]{32}$")
TOKENS_MAX = 10**12


@dataclass(frozen=True)
class CostParts:
    """The domain objects the RPCs call."""

    engine: AsyncEngine
    writer: LedgerWriter
    prices: PriceBook
    budgets: BudgetStore
    checker: BudgetChecker
    alerts: AlertFeed
    report: SpendReport
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class CostServicer(pb_grpc.CostServiceServicer):
    def __init__(self, parts: CostParts) -> None:
        self._parts = parts

    async def RecordUsage(
        self, request: pb.RecordUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordUsageResponse:
        records = [usage_record(event) for event in request.events]
        validate_records(records)
        outcomes = await self._parts.writer.record(records)
        results = []
        for outcome in outcomes:
            result = pb.RecordResult(request_id=outcome.request_id, recorded=outcome.recorded)
            if outcome.cost is not None:
                result.cost.CopyFrom(money(outcome.cost))
            result.cost_unknown = outcome.recorded and outcome.cost is None
            results.append(result)
        return pb.RecordUsageResponse(results=results)

    async def GetPrice(
        self, request: pb.GetPriceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPriceResponse:
        _require(model=request.model)
        at = request.at.ToDatetime(tzinfo=UTC) if request.HasField("at") else None
        row = await self._parts.prices.get_price(request.provider, request.model, at)
        return pb.GetPriceResponse(price=price_convert.price_message(row))

    async def ListPrices(
        self, request: pb.ListPricesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPricesResponse:
        rows = await self._parts.prices.list_prices(request.provider or None, request.model or None)
        return pb.ListPricesResponse(prices=[price_convert.price_message(r) for r in rows])

    async def SetPrice(
        self, request: pb.SetPriceRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetPriceResponse:
        if not request.HasField("price"):
            raise InvalidArgument.field("price", "is required")
        row = await self._parts.prices.set_price(
            price_convert.price_row(request.price, self._parts.now())
        )
        return pb.SetPriceResponse(price=price_convert.price_message(row))

    async def CreateBudget(
        self, request: pb.CreateBudgetRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateBudgetResponse:
        owner = caller_tenant(context)
        budget = await self._parts.budgets.create(
            budget_convert.budget_from(request.budget, owner=owner)
        )
        return pb.CreateBudgetResponse(budget=budget_convert.budget_message(budget))

    async def GetBudget(
        self, request: pb.GetBudgetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetBudgetResponse:
        _check_budget_id(request.budget_id)
        budget = await self._parts.budgets.get(request.budget_id)
        (state,) = await self._parts.checker.states([budget])
        return pb.GetBudgetResponse(status=budget_convert.status_message(state))

    async def ListBudgets(
        self, request: pb.ListBudgetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListBudgetsResponse:
        budgets = await self._parts.budgets.list_budgets(request.scope)
        states = await self._parts.checker.states(budgets)
        return pb.ListBudgetsResponse(statuses=[budget_convert.status_message(s) for s in states])

    async def DeleteBudget(
        self, request: pb.DeleteBudgetRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteBudgetResponse:
        _check_budget_id(request.budget_id)
        await self._parts.budgets.get(request.budget_id)  # NotFound for an unknown budget
        await self._parts.budgets.delete(request.budget_id)
        return pb.DeleteBudgetResponse()

    async def CheckBudget(
        self, request: pb.CheckBudgetRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckBudgetResponse:
        _check_call(request)
        decision = await self._parts.checker.check(budget_convert.budget_call(request))
        return budget_convert.decision_message(decision)

    async def ReleaseBudgetReservation(
        self, request: pb.ReleaseBudgetReservationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReleaseBudgetReservationResponse:
        _check_request_id(request.request_id)
        released = await self._parts.checker.release(request.request_id)
        return pb.ReleaseBudgetReservationResponse(released=released)

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAlertsResponse:
        if request.budget_id:
            _check_budget_id(request.budget_id)
        if request.page_size < 0:
            raise InvalidArgument.field("page_size", "cannot be negative")
        found = await list_alerts(
            self._parts.engine, budget_id=request.budget_id, limit=request.page_size
        )
        return pb.ListAlertsResponse(alerts=[budget_convert.alert_message(a) for a in found])

    async def WatchAlerts(
        self, request: pb.WatchAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchAlertsResponse]:
        async with self._parts.alerts.subscribe(request.scope) as alerts:
            async for alert in alerts:
                yield pb.WatchAlertsResponse(alert=budget_convert.alert_message(alert))

    async def GetSpend(
        self, request: pb.GetSpendRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetSpendResponse:
        query = reports_convert.spend_query(request, self._parts.now)
        response = reports_convert.spend_response(await self._parts.report.get(query))
        self._parts.report.check_size(response.ByteSize())
        return response

    async def ExportSpend(
        self, request: pb.ExportSpendRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        query = reports_convert.spend_query(request.query, self._parts.now)
        result = await self._parts.report.get(query)
        exported = export_spend(result, request.format)
        body = httpbody_pb2.HttpBody(content_type=exported.content_type, data=exported.content)
        self._parts.report.check_size(body.ByteSize())
        return body

    async def RebuildAggregates(
        self, request: pb.RebuildAggregatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.RebuildAggregatesResponse:
        return pb.RebuildAggregatesResponse(events=await rebuild(self._parts.engine))


def _require(**fields: str) -> None:
    v = Violations()
    for name, value in fields.items():
        v.check(bool(value), name, "is required")
    v.raise_if_any()


def _check_budget_id(budget_id: str) -> None:
    if not BUDGET_ID.match(budget_id):
        raise InvalidArgument.field("budget_id", "must be 32 lowercase hex characters")


def _check_request_id(request_id: str) -> None:
    if not REQUEST_ID.match(request_id):
        raise InvalidArgument.field("request_id", "1-128 of [A-Za-z0-9._:-]")


def _check_call(request: pb.CheckBudgetRequest) -> None:
    v = Violations()
    v.check(bool(REQUEST_ID.match(request.request_id)), "request_id", "1-128 of [A-Za-z0-9._:-]")
    v.check(bool(request.model), "model", "is required")
    for name in ("input_tokens", "max_output_tokens"):
        value = getattr(request, name)
        v.check(0 <= value <= TOKENS_MAX, name, f"must be between 0 and {TOKENS_MAX}")
    v.raise_if_any()
