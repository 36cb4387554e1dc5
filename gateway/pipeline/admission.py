"""Admission: the rate-limit check and the budget check, at once, and their reconciliation.

Both checks reserve: the rate limiter counts the request and the estimated tokens, the cost
service reserves the call's worst-case price under every budget that applies. They run
concurrently (neither waits for the other), so a refusal by one leaves a reservation in the
other, which is released at once:

- quota refused -> 429 `rate_limit_exceeded` with `Retry-After`; the budget reservation is
  released;
- budget refused -> 429 `insufficient_quota` (OpenAI's answer when credit is spent, which
  clients do not retry); the quota reservation is released;
- a check that fails (a service down) -> its mapped error (503); the other's reservation is
  released. Nothing is admitted unchecked by the gateway itself; the rate limiter's own failure
  mode (open or closed) decides while Redis is away.

After the call: `settle` commits the real token count to the quota reservation (the budget's
is settled by the usage event the router emits, by request id); `abandon` releases both when
the router failed before any usage. Releases and commits are idempotent on the services' side.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import grpc
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as rl_grpc

from gateway.keys.model import ApiKey
from gateway.openai.errors import (
    OpenAIError,
    insufficient_quota,
    rate_limit_exceeded,
    to_openai_error,
)
from gateway.pipeline.catalogue import Served
from gateway.pipeline.estimate import TokenEstimate
from gateway.pipeline.rate_headers import TOKEN_KINDS, ratelimit_headers
from gateway.pipeline.subjects import quota_subjects

CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Candidate:
    """A call asking to be admitted."""

    request_id: str
    key: ApiKey
    model: str
    tokens: TokenEstimate
    served: Served = field(default_factory=Served)


@dataclass(frozen=True)
class Ticket:
    """An admitted call: what to settle or release when it ends."""

    request_id: str
    reservation_id: str
    headers: dict[str, str]
    """The x-ratelimit-* headers of the admission."""


class Admission:
    def __init__(
        self,
        ratelimit: rl_grpc.RateLimitServiceStub,
        cost: cost_grpc.CostServiceStub,
        *,
        clock: Callable[[], float] = time.time,
        timeout_seconds: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._ratelimit = ratelimit
        self._cost = cost
        self._clock = clock
        self._timeout = timeout_seconds

    async def admit(self, call: Candidate) -> Ticket:
        quota, budget = await asyncio.gather(
            self._check_quota(call), self._check_budget(call), return_exceptions=True
        )
        if isinstance(quota, BaseException) or isinstance(budget, BaseException):
            await self._undo(call, quota, budget)
            failed = quota if isinstance(quota, BaseException) else budget
            assert isinstance(failed, BaseException)
            raise to_openai_error(failed) from None
        headers = ratelimit_headers(quota.limits, self._clock())
        if not quota.allowed:
            await self._release_budget(call.request_id, budget)
            raise _with_headers(self._quota_refusal(quota, call.tokens.total), headers)
        if not budget.allowed:
            await self._release_quota(quota.reservation_id)
            raise _with_headers(_budget_refusal(budget, self._clock()), headers)
        return Ticket(call.request_id, quota.reservation_id, headers)

    async def settle(self, ticket: Ticket, actual_tokens: int) -> None:
        if ticket.reservation_id:
            request = rl_pb.CommitReservationRequest(
                reservation_id=ticket.reservation_id, actual_tokens=max(0, actual_tokens)
            )
            await self._ratelimit.CommitReservation(request, timeout=self._timeout)

    async def abandon(self, ticket: Ticket) -> None:
        await asyncio.gather(
            self._release_quota(ticket.reservation_id),
            self._release_budget(ticket.request_id, None),
        )

    async def _check_quota(self, call: Candidate) -> rl_pb.CheckQuotaResponse:
        request = rl_pb.CheckQuotaRequest(
            subjects=quota_subjects(call.key),
            model=call.model,
            estimated_tokens=call.tokens.total,
        )
        answer: rl_pb.CheckQuotaResponse = await self._ratelimit.CheckQuota(
            request, timeout=self._timeout
        )
        return answer

    async def _check_budget(self, call: Candidate) -> cost_pb.CheckBudgetResponse:
        request = cost_pb.CheckBudgetRequest(
            request_id=call.request_id,
            tenant=call.key.tenant,
            user=call.key.user,
            key=call.key.id,
            model=call.model,
            provider=call.served.provider,
            upstream_model=call.served.upstream_model,
            input_tokens=call.tokens.input_tokens,
            max_output_tokens=call.tokens.max_output_tokens,
        )
        answer: cost_pb.CheckBudgetResponse = await self._cost.CheckBudget(
            request, timeout=self._timeout
        )
        return answer

    async def _undo(self, call: Candidate, quota: object, budget: object) -> None:
        if isinstance(quota, rl_pb.CheckQuotaResponse):
            await self._release_quota(quota.reservation_id)
        if isinstance(budget, cost_pb.CheckBudgetResponse):
            await self._release_budget(call.request_id, budget)

    async def _release_quota(self, reservation_id: str) -> None:
        if not reservation_id:
            return
        request = rl_pb.ReleaseReservationRequest(reservation_id=reservation_id)
        with contextlib.suppress(grpc.aio.AioRpcError):  # unreleased, it expires by itself
            await self._ratelimit.ReleaseReservation(request, timeout=self._timeout)

    async def _release_budget(
        self, request_id: str, budget: cost_pb.CheckBudgetResponse | None
    ) -> None:
        if budget is not None and not budget.allowed:
            return  # a refused check reserved nothing
        request = cost_pb.ReleaseBudgetReservationRequest(request_id=request_id)
        with contextlib.suppress(grpc.aio.AioRpcError):  # unreleased, its TTL frees it
            await self._cost.ReleaseBudgetReservation(request, timeout=self._timeout)

    def _quota_refusal(self, quota: rl_pb.CheckQuotaResponse, requested: int) -> OpenAIError:
        exceeded = [limit for limit in quota.limits if limit.exceeded]
        tokens = bool(exceeded) and all(limit.kind in TOKEN_KINDS for limit in exceeded)
        limit_type = "tokens" if tokens else "requests"
        if exceeded and not quota.HasField("retry_after"):
            # The rate limiter's word that no wait helps (a limit of 0, or an estimate above a
            # tokens-per-minute limit): no Retry-After, and OpenAI's SDKs told not to retry.
            error = rate_limit_exceeded(_never_message(exceeded, requested), limit_type=limit_type)
            error.headers["x-should-retry"] = "false"
            return error
        wait = quota.retry_after.ToNanoseconds() / 1e9 if quota.HasField("retry_after") else None
        return rate_limit_exceeded(_quota_message(exceeded), wait, limit_type=limit_type)


def _quota_message(exceeded: Sequence[rl_pb.LimitStatus]) -> str:
    if not exceeded:
        return "Rate limit reached; retry after the time in Retry-After."
    first = exceeded[0]
    kind = _KIND_NAMES.get(first.kind, "requests")
    model = f" for model {first.model}" if first.model else ""
    return (
        f"Rate limit reached for {first.subject}{model} on {kind}: limit {first.limit}. "
        "Retry after the time in Retry-After."
    )


def _never_message(exceeded: Sequence[rl_pb.LimitStatus], requested: int) -> str:
    too_small = [limit for limit in exceeded if limit.kind in TOKEN_KINDS and limit.limit > 0]
    first = too_small[0] if too_small else exceeded[0]
    kind = _KIND_NAMES.get(first.kind, "requests")
    model = f" for model {first.model}" if first.model else ""
    if too_small:
        return (
            f"Request too large for {first.subject}{model} on {kind}: limit {first.limit}, "
            f"requested {requested}. Reduce the input or max_tokens; retrying will not help."
        )
    return f"{first.subject}{model} has a limit of 0 {kind}; retrying will not help."


_KIND_NAMES = {
    rl_pb.LIMIT_KIND_REQUESTS_PER_DAY: "requests per day",
    rl_pb.LIMIT_KIND_REQUESTS_PER_MINUTE: "requests per minute",
    rl_pb.LIMIT_KIND_TOKENS_PER_MINUTE: "tokens per minute",
}


def _budget_refusal(budget: cost_pb.CheckBudgetResponse, now: float) -> OpenAIError:
    if not budget.exceeded:
        return insufficient_quota()
    status = budget.exceeded[0]
    spent = _money(status.spent)
    limit = _money(status.budget.limit)
    period = cost_pb.BudgetPeriod.Name(status.budget.period).removeprefix("BUDGET_PERIOD_")
    return insufficient_quota(
        f"The {period.lower()} budget of {status.budget.scope} is spent "
        f"({spent} of {limit}); calls resume when the period ends or the budget is raised.",
        retry_after_seconds=_until(status, now),
    )


def _until(status: cost_pb.BudgetStatus, now: float) -> float | None:
    if not status.HasField("period_end"):
        return None
    return max(0.0, status.period_end.ToNanoseconds() / 1e9 - now)


def _money(money: cost_pb.Money) -> str:
    amount = (Decimal(money.nanos) / Decimal(10**9)).quantize(Decimal("0.000001"))
    return f"{amount.normalize():f} {money.currency_code}".strip()


def _with_headers(error: OpenAIError, headers: dict[str, str]) -> OpenAIError:
    error.headers = {**headers, **error.headers}
    return error


__all__ = ["Admission", "Candidate", "Ticket"]
