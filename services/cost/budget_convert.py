"""Budgets, their states and alerts: protobuf to the cost service's types and back."""

from __future__ import annotations

from switchboard.cost.v1 import cost_service_pb2 as pb

from services.cost.budgets.checker import BudgetCall, BudgetDecision, BudgetState
from services.cost.budgets.model import Alert, Budget, new_budget
from services.cost.budgets.periods import Period
from services.cost.convert import money, money_from, timestamp

_PERIODS = {
    Period.DAILY: pb.BUDGET_PERIOD_DAILY,
    Period.WEEKLY: pb.BUDGET_PERIOD_WEEKLY,
    Period.MONTHLY: pb.BUDGET_PERIOD_MONTHLY,
}


def budget_from(message: pb.Budget, owner: str = "") -> Budget:
    """A new budget (fresh id) from a request; InvalidArgument names every bad field. The
    message's own `owner` is ignored (output only): the caller's identity decides it."""
    period = pb.BudgetPeriod.Name(message.period).removeprefix("BUDGET_PERIOD_").lower()
    return new_budget(
        owner=owner,
        scope=message.scope,
        limit=money_from(message.limit),
        period=period,
        hard=message.hard,
        model=message.model,
        time_zone=message.time_zone,
        thresholds=message.thresholds,
    )


def budget_message(budget: Budget) -> pb.Budget:
    return pb.Budget(
        budget_id=budget.id,
        scope=budget.scope,
        model=budget.model,
        period=_PERIODS[budget.period],
        time_zone=budget.time_zone,
        limit=money(budget.limit),
        hard=budget.hard,
        thresholds=list(budget.thresholds),
        created=timestamp(budget.created_at),
        owner=budget.owner,
    )


def status_message(state: BudgetState) -> pb.BudgetStatus:
    return pb.BudgetStatus(
        budget=budget_message(state.budget),
        period_start=timestamp(state.period_start),
        period_end=timestamp(state.period_end),
        spent=money(state.spent),
        reserved=money(state.reserved),
    )


def budget_call(request: pb.CheckBudgetRequest) -> BudgetCall:
    return BudgetCall(
        request_id=request.request_id,
        tenant=request.tenant,
        user=request.user,
        key=request.key,
        model=request.model,
        provider=request.provider,
        upstream_model=request.upstream_model,
        input_tokens=request.input_tokens,
        max_output_tokens=request.max_output_tokens,
    )


def decision_message(decision: BudgetDecision) -> pb.CheckBudgetResponse:
    response = pb.CheckBudgetResponse(
        allowed=decision.allowed,
        reserved=money(decision.reserved),
        exceeded=[status_message(state) for state in decision.exceeded],
    )
    response.reservation_ttl.FromNanoseconds(round(decision.reservation_ttl_seconds * 1e9))
    return response


def alert_message(alert: Alert) -> pb.Alert:
    return pb.Alert(
        alert_id=alert.id,
        budget_id=alert.budget_id,
        scope=alert.scope,
        threshold=alert.threshold,
        period_start=timestamp(alert.period_start),
        spent=money(alert.spent),
        limit=money(alert.limit),
        raised=timestamp(alert.raised_at),
    )
