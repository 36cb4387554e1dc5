"""Reservation lifecycle on both stores: commit, release, idempotency, conflicts, expiry."""

from __future__ import annotations

import pytest

from services.ratelimit.limiter import CommitResult, Limiter
from services.ratelimit.limits import LimitKind
from services.ratelimit.subjects import QuotaSubject
from svckit.errors import FailedPrecondition, NotFound

from .conftest import NOON, RESERVATION_TTL
from .fake_clock import FakeClock

KEY = QuotaSubject("keys/k1", "basic")


async def used(limiter: Limiter, kind: LimitKind, model: str = "") -> int:
    """How much of a limit of keys/k1 is used in the current window."""
    [status] = [
        s
        for s in await limiter.usage("keys/k1", "basic", "gpt-4o")
        if s.kind is kind and s.model == model
    ]
    return status.limit - status.remaining


async def reserve(limiter: Limiter, tokens: int, model: str = "gpt-4o") -> str:
    result = await limiter.check([KEY], model, tokens)
    assert result.reservation_id is not None
    return result.reservation_id


async def test_commit_less_than_the_estimate_gives_tokens_back(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 300)
    assert await limiter.commit(reservation, 120) == CommitResult(300, 120)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 120
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE, "gpt-4o") == 120
    assert await used(limiter, LimitKind.REQUESTS_PER_MINUTE) == 1


async def test_commit_more_than_the_estimate_charges_the_excess(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 100)
    assert await limiter.commit(reservation, 450) == CommitResult(100, 450)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 450
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE, "gpt-4o") == 450
    refused = await limiter.check([KEY], "gpt-4o", 51)
    assert not refused.allowed


async def test_release_returns_the_request_and_the_tokens(limiter: Limiter) -> None:
    kept = await reserve(limiter, 200)
    released = await reserve(limiter, 300)
    assert await limiter.release(released) == 300
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 200
    assert await used(limiter, LimitKind.REQUESTS_PER_MINUTE) == 1
    assert await used(limiter, LimitKind.REQUESTS_PER_DAY) == 1
    assert await used(limiter, LimitKind.REQUESTS_PER_MINUTE, "gpt-4o") == 1
    await limiter.commit(kept, 200)


async def test_the_same_commit_again_answers_the_same(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 300)
    first = await limiter.commit(reservation, 250)
    assert await limiter.commit(reservation, 250) == first
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 250


async def test_a_second_release_answers_the_same(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 300)
    assert await limiter.release(reservation) == 300
    assert await limiter.release(reservation) == 300
    assert await used(limiter, LimitKind.REQUESTS_PER_DAY) == 0


async def test_a_commit_with_another_actual_conflicts(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 300)
    await limiter.commit(reservation, 250)
    with pytest.raises(FailedPrecondition) as caught:
        await limiter.commit(reservation, 251)
    assert caught.value.reason == "RESERVATION_ALREADY_SETTLED"
    assert caught.value.metadata == {"state": "committed"}
    assert "250" in caught.value.message
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 250


async def test_a_commit_after_a_release_conflicts(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 300)
    await limiter.release(reservation)
    with pytest.raises(FailedPrecondition) as caught:
        await limiter.commit(reservation, 300)
    assert caught.value.metadata == {"state": "released"}
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 0


async def test_a_release_after_a_commit_conflicts(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 300)
    await limiter.commit(reservation, 100)
    with pytest.raises(FailedPrecondition):
        await limiter.release(reservation)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 100


async def test_an_unknown_reservation_is_not_found(limiter: Limiter) -> None:
    with pytest.raises(NotFound) as committing:
        await limiter.commit("0" * 32, 1)
    with pytest.raises(NotFound) as releasing:
        await limiter.release("0" * 32)
    for caught in (committing, releasing):
        assert caught.value.reason == "RESERVATION_NOT_FOUND"


async def test_an_unsettled_reservation_expires_and_its_estimate_stays(
    short_ttl_limiter: tuple[Limiter, FakeClock],
) -> None:
    limiter, clock = short_ttl_limiter
    reservation = await reserve(limiter, 300)
    clock.advance(30)
    with pytest.raises(NotFound):
        await limiter.commit(reservation, 10)
    with pytest.raises(NotFound):
        await limiter.release(reservation)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 300
    assert await used(limiter, LimitKind.REQUESTS_PER_DAY) == 1


async def test_a_reservation_can_be_settled_until_just_before_it_expires(
    short_ttl_limiter: tuple[Limiter, FakeClock],
) -> None:
    limiter, clock = short_ttl_limiter
    reservation = await reserve(limiter, 300)
    clock.advance(29.9)
    assert await limiter.commit(reservation, 10) == CommitResult(300, 10)


async def test_a_settled_reservation_is_remembered_for_the_ttl(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    reservation = await reserve(limiter, 300)
    fake_clock.advance(RESERVATION_TTL - 1)
    await limiter.commit(reservation, 200)
    fake_clock.advance(RESERVATION_TTL - 1)
    assert await limiter.commit(reservation, 200) == CommitResult(300, 200)
    fake_clock.advance(1)
    with pytest.raises(NotFound):
        await limiter.commit(reservation, 200)


async def test_a_commit_adjusts_only_the_reservation_s_own_windows(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    fake_clock.now = NOON + 50
    reservation = await reserve(limiter, 100)
    fake_clock.now = NOON + 70
    await limiter.commit(reservation, 900)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 0
    assert await used(limiter, LimitKind.REQUESTS_PER_DAY) == 1


async def test_a_late_release_returns_only_what_is_still_counted(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    fake_clock.now = NOON + 50
    reservation = await reserve(limiter, 100)
    fake_clock.now = NOON + 70
    await reserve(limiter, 100)
    assert await limiter.release(reservation) == 100
    assert await used(limiter, LimitKind.REQUESTS_PER_DAY) == 1
    assert await used(limiter, LimitKind.REQUESTS_PER_MINUTE) == 1
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 100


async def test_counters_never_go_below_zero(limiter: Limiter) -> None:
    big = await reserve(limiter, 400)
    await limiter.reset("keys/k1")
    await reserve(limiter, 50)
    assert await limiter.release(big) == 400
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 0
    assert await used(limiter, LimitKind.REQUESTS_PER_DAY) == 0
    small = await reserve(limiter, 60)
    await limiter.reset("keys/k1")
    await reserve(limiter, 10)
    await limiter.commit(small, 0)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 0


async def test_settling_after_a_reset_creates_no_counter(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 100)
    await limiter.reset("keys/k1")
    await limiter.commit(reservation, 400)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE) == 0
    assert await limiter.reset("keys/k1") == 0


async def test_a_zero_token_reservation_can_be_committed_with_tokens(limiter: Limiter) -> None:
    reservation = await reserve(limiter, 0)
    assert await limiter.commit(reservation, 70) == CommitResult(0, 70)
    assert await used(limiter, LimitKind.TOKENS_PER_MINUTE, "gpt-4o") == 70
