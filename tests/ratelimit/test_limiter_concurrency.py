"""Many concurrent callers on one store never get more than a limit, and reservations settle
to exact totals. On Redis the callers share a pool of connections, as one replica's would."""

from __future__ import annotations

import asyncio

from services.ratelimit.limiter import CheckResult, Limiter
from services.ratelimit.limits import LimitKind
from services.ratelimit.subjects import QuotaSubject

CALLERS = 200


def decided_by_limits(result: CheckResult) -> bool:
    """Not by the failure mode: a store error must fail these tests, not admit quietly."""
    return not result.backend_unavailable


async def test_a_request_limit_admits_exactly_the_limit(busy_limiter: Limiter) -> None:
    bulk = [QuotaSubject("tenants/t1", "bulk")]

    async def caller() -> int:
        admitted = 0
        for _ in range(4):
            result = await busy_limiter.check(bulk, "", 0)
            assert decided_by_limits(result)
            admitted += result.allowed
        return admitted

    results = await asyncio.gather(*(caller() for _ in range(CALLERS)))
    assert sum(results) == 500
    [status] = await busy_limiter.usage("tenants/t1", "bulk", "")
    assert status.remaining == 0


async def test_token_reservations_settle_to_the_exact_committed_total(
    busy_limiter: Limiter,
) -> None:
    subject = [QuotaSubject("tenants/t1", "bulk_tokens")]

    async def caller(index: int) -> int | None:
        """The tokens this caller finally counted; None when it was refused."""
        result = await busy_limiter.check(subject, "", 1000)
        assert decided_by_limits(result)
        if result.reservation_id is None:
            return None
        await asyncio.sleep(0)
        if index % 5 == 0:
            await busy_limiter.release(result.reservation_id)
            return 0
        actual = (index * 37) % 1000
        await busy_limiter.commit(result.reservation_id, actual)
        return actual

    outcomes = await asyncio.gather(*(caller(index) for index in range(CALLERS)))
    counted = [tokens for tokens in outcomes if tokens is not None]
    assert 50 <= len(counted) < CALLERS
    [status] = await busy_limiter.usage("tenants/t1", "bulk_tokens", "")
    assert status.kind is LimitKind.TOKENS_PER_MINUTE
    assert status.limit - status.remaining == sum(counted)
