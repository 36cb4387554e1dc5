"""The limiter's behaviour, on both stores: admission, windows, limits, overrides, usage, reset."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.ratelimit.limiter import Limiter
from services.ratelimit.limits import LimitKind, LimitStatus
from services.ratelimit.memory_quota_store import MemoryQuotaStore
from services.ratelimit.overrides import Override
from services.ratelimit.subjects import QuotaSubject
from services.ratelimit.tiers import TierCatalog
from svckit.errors import NotFound

from .conftest import NOON, RESERVATION_TTL
from .fake_clock import FakeClock, utc

RPD = LimitKind.REQUESTS_PER_DAY
RPM = LimitKind.REQUESTS_PER_MINUTE
TPM = LimitKind.TOKENS_PER_MINUTE

KEY = QuotaSubject("keys/k1", "basic")


def by_limit(statuses: Sequence[LimitStatus]) -> dict[tuple[str, LimitKind, str], LimitStatus]:
    return {(s.subject, s.kind, s.model): s for s in statuses}


def remaining(statuses: Sequence[LimitStatus], kind: LimitKind, model: str = "") -> int:
    [status] = [s for s in statuses if s.kind is kind and s.model == model]
    return status.remaining


async def test_an_admitted_check_reports_every_limit_in_stable_order(limiter: Limiter) -> None:
    result = await limiter.check([KEY, QuotaSubject("users/u1", "daily")], "gpt-4o", 100)
    assert result.allowed
    assert result.retry_after is None
    assert [(s.subject, s.kind, s.model) for s in result.limits] == [
        ("keys/k1", RPD, ""),
        ("keys/k1", RPM, ""),
        ("keys/k1", RPM, "gpt-4o"),
        ("keys/k1", TPM, ""),
        ("keys/k1", TPM, "gpt-4o"),
        ("users/u1", RPD, ""),
    ]
    assert [(s.limit, s.remaining) for s in result.limits] == [
        (5, 4),
        (3, 2),
        (2, 1),
        (1000, 900),
        (500, 400),
        (2, 1),
    ]
    assert not any(s.exceeded or s.overridden for s in result.limits)


async def test_reset_times_are_the_ends_of_utc_windows(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    fake_clock.now = utc(2025, 1, 6, 12, 0, 30) + 0.5
    statuses = by_limit((await limiter.check([KEY], "", 1)).limits)
    assert statuses["keys/k1", RPM, ""].reset_time == utc(2025, 1, 6, 12, 1)
    assert statuses["keys/k1", TPM, ""].reset_time == utc(2025, 1, 6, 12, 1)
    assert statuses["keys/k1", RPD, ""].reset_time == utc(2025, 1, 7)


async def test_an_admitted_check_always_gets_a_reservation(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    zero_tokens = await limiter.check([KEY], "", 0)
    no_limits = await limiter.check([QuotaSubject("keys/free-for-all", "unlimited")], "", 5)
    for result in (zero_tokens, no_limits):
        assert result.allowed
        assert result.reservation_id
        assert result.reservation_expire_time == fake_clock.now + RESERVATION_TTL
    assert no_limits.limits == ()
    assert zero_tokens.reservation_id != no_limits.reservation_id


async def test_a_refused_check_counts_nothing_and_says_when_to_retry(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    fake_clock.now = NOON + 15
    for _ in range(3):
        assert (await limiter.check([KEY], "", 10)).allowed
    refused = await limiter.check([KEY], "", 10)
    assert not refused.allowed
    assert refused.reservation_id is None
    assert refused.reservation_expire_time is None
    assert refused.retry_after == 45
    statuses = by_limit(refused.limits)
    assert statuses["keys/k1", RPM, ""].exceeded
    assert statuses["keys/k1", RPM, ""].remaining == 0
    assert not statuses["keys/k1", RPD, ""].exceeded
    assert statuses["keys/k1", RPD, ""].remaining == 2
    usage = await limiter.usage("keys/k1", "basic", "")
    assert remaining(usage, RPD) == 2
    assert remaining(usage, TPM) == 970


async def test_all_or_nothing_across_subjects(limiter: Limiter) -> None:
    daily = QuotaSubject("users/u1", "daily")
    for _ in range(2):
        assert (await limiter.check([daily], "", 0)).allowed
    refused = await limiter.check([KEY, daily], "gpt-4o", 100)
    assert not refused.allowed
    exceeded = [(s.subject, s.kind) for s in refused.limits if s.exceeded]
    assert exceeded == [("users/u1", RPD)]
    usage = await limiter.usage("keys/k1", "basic", "gpt-4o")
    assert all(s.remaining == s.limit for s in usage)


async def test_minute_windows_roll_over_at_the_top_of_the_minute(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    fake_clock.now = utc(2025, 1, 6, 12, 0, 59)
    for _ in range(3):
        assert (await limiter.check([KEY], "", 0)).allowed
    refused = await limiter.check([KEY], "", 0)
    assert not refused.allowed
    assert refused.retry_after == 1
    fake_clock.now = utc(2025, 1, 6, 12, 1, 0)
    admitted = await limiter.check([KEY], "", 0)
    assert admitted.allowed
    assert remaining(admitted.limits, RPM) == 2
    assert remaining(admitted.limits, RPD) == 1


async def test_day_windows_roll_over_at_utc_midnight(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    daily = QuotaSubject("users/u1", "daily")
    fake_clock.now = utc(2025, 1, 6, 23, 59, 59)
    assert (await limiter.check([daily], "", 0)).allowed
    assert (await limiter.check([daily], "", 0)).allowed
    refused = await limiter.check([daily], "", 0)
    assert not refused.allowed
    assert refused.retry_after == 1
    assert refused.limits[0].reset_time == utc(2025, 1, 7)
    fake_clock.now = utc(2025, 1, 7)
    admitted = await limiter.check([daily], "", 0)
    assert admitted.allowed
    assert admitted.limits[0].remaining == 1
    assert admitted.limits[0].reset_time == utc(2025, 1, 8)


async def test_retry_after_waits_for_every_exceeded_window(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    fake_clock.now = utc(2025, 1, 6, 23, 0, 0)
    for _ in range(3):
        assert (await limiter.check([KEY], "", 0)).allowed
    fake_clock.now = utc(2025, 1, 6, 23, 1, 0)
    for _ in range(2):
        assert (await limiter.check([KEY], "", 400)).allowed
    refused = await limiter.check([KEY], "", 300)
    assert [s.kind for s in refused.limits if s.exceeded] == [RPD, TPM]
    assert refused.retry_after == 59 * 60


async def test_a_call_no_window_could_admit_is_refused_without_a_retry_after(
    limiter: Limiter,
) -> None:
    """Retrying cannot help: the caller must change the call (or its limits), not wait."""
    too_large = await limiter.check([QuotaSubject("tenants/t1", "tokens")], "", 1001)
    blocked = await limiter.check([QuotaSubject("tenants/t2", "blocked")], "", 0)
    fits_later = await limiter.check([QuotaSubject("tenants/t1", "tokens")], "", 1000)

    assert not too_large.allowed
    assert too_large.retry_after is None
    assert not blocked.allowed
    assert blocked.retry_after is None
    assert fits_later.allowed  # 1,000 of 1,000 fits an empty window


async def test_tokens_must_fit_and_an_empty_window_admits_nothing(limiter: Limiter) -> None:
    tokens = QuotaSubject("tenants/t1", "tokens")
    assert not (await limiter.check([tokens], "", 1001)).allowed
    assert (await limiter.check([tokens], "", 600)).allowed
    assert not (await limiter.check([tokens], "", 401)).allowed
    assert (await limiter.check([tokens], "", 400)).allowed
    refused = await limiter.check([tokens], "", 0)
    assert not refused.allowed
    assert refused.limits[0].exceeded


async def test_a_limit_of_zero_admits_nothing(limiter: Limiter) -> None:
    refused = await limiter.check([QuotaSubject("keys/k2", "blocked")], "", 0)
    assert not refused.allowed
    assert refused.limits[0].limit == 0


async def test_per_model_limits_count_per_subject_and_model(limiter: Limiter) -> None:
    for _ in range(2):
        assert (await limiter.check([KEY], "gpt-4o", 0)).allowed
    refused = await limiter.check([KEY], "gpt-4o", 0)
    assert [(s.kind, s.model) for s in refused.limits if s.exceeded] == [(RPM, "gpt-4o")]
    other_model = await limiter.check([KEY], "gpt-4o-mini", 0)
    assert other_model.allowed
    assert remaining(other_model.limits, RPM) == 0
    other_subject = await limiter.check([QuotaSubject("keys/k2", "basic")], "gpt-4o", 0)
    assert other_subject.allowed


async def test_an_override_replaces_the_tier_field_by_field(limiter: Limiter) -> None:
    await limiter.set_override(Override("keys/k1", requests_per_minute=10, reason="launch"))
    statuses = by_limit((await limiter.check([KEY], "gpt-4o", 0)).limits)
    assert (statuses["keys/k1", RPM, ""].limit, statuses["keys/k1", RPM, ""].overridden) == (
        10,
        True,
    )
    assert (statuses["keys/k1", RPD, ""].limit, statuses["keys/k1", RPD, ""].overridden) == (
        5,
        False,
    )
    assert statuses["keys/k1", RPM, "gpt-4o"].limit == 2
    assert not statuses["keys/k1", RPM, "gpt-4o"].overridden


async def test_an_override_can_add_a_limit_the_tier_lacks(limiter: Limiter) -> None:
    daily = QuotaSubject("users/u1", "daily")
    await limiter.set_override(Override("users/u1", tokens_per_minute=0))
    refused = await limiter.check([daily], "", 0)
    assert not refused.allowed
    assert [(s.kind, s.overridden, s.exceeded) for s in refused.limits] == [
        (RPD, False, False),
        (TPM, True, True),
    ]


async def test_an_override_lapses_at_its_expire_time(
    limiter: Limiter, fake_clock: FakeClock
) -> None:
    await limiter.set_override(Override("keys/k1", requests_per_day=1, expire_time=NOON + 90))
    assert (await limiter.get_override("keys/k1")).requests_per_day == 1
    assert remaining((await limiter.check([KEY], "", 0)).limits, RPD) == 0
    fake_clock.now = NOON + 90
    admitted = await limiter.check([KEY], "", 0)
    assert admitted.allowed
    assert remaining(admitted.limits, RPD) == 3
    with pytest.raises(NotFound):
        await limiter.get_override("keys/k1")
    with pytest.raises(NotFound):
        await limiter.delete_override("keys/k1")


async def test_overrides_are_set_got_replaced_and_deleted(limiter: Limiter) -> None:
    with pytest.raises(NotFound) as caught:
        await limiter.get_override("keys/k1")
    assert caught.value.reason == "OVERRIDE_NOT_FOUND"
    first = Override("keys/k1", 1, 2, 3, reason="trial", expire_time=NOON + 3600.25)
    assert await limiter.set_override(first) == first
    assert await limiter.get_override("keys/k1") == first
    second = Override("keys/k1", tokens_per_minute=7)
    await limiter.set_override(second)
    assert await limiter.get_override("keys/k1") == second
    await limiter.delete_override("keys/k1")
    with pytest.raises(NotFound):
        await limiter.get_override("keys/k1")
    with pytest.raises(NotFound):
        await limiter.delete_override("keys/k1")


async def test_usage_reports_like_a_check_without_counting(limiter: Limiter) -> None:
    await limiter.check([KEY], "gpt-4o", 300)
    await limiter.check([KEY], "gpt-4o", 200)
    first = await limiter.usage("keys/k1", "basic", "gpt-4o")
    second = await limiter.usage("keys/k1", "basic", "gpt-4o")
    assert first == second
    assert [(s.kind, s.model, s.remaining, s.exceeded) for s in first] == [
        (RPD, "", 3, False),
        (RPM, "", 1, False),
        (RPM, "gpt-4o", 0, True),
        (TPM, "", 500, False),
        (TPM, "gpt-4o", 0, True),
    ]
    without_model = await limiter.usage("keys/k1", "basic", "")
    assert [s.model for s in without_model] == ["", "", ""]


async def test_usage_of_an_unknown_subject_is_all_remaining(limiter: Limiter) -> None:
    usage = await limiter.usage("tenants/new", "basic", "gpt-4o")
    assert all(s.remaining == s.limit and not s.exceeded for s in usage)


async def test_reset_forgets_every_counter_of_the_subject_only(limiter: Limiter) -> None:
    other = QuotaSubject("keys/k10", "basic")
    await limiter.check([KEY, other], "gpt-4o", 100)
    await limiter.check([KEY], "o1", 100)
    assert await limiter.reset("keys/k1") == 5
    usage = await limiter.usage("keys/k1", "basic", "gpt-4o")
    assert all(s.remaining == s.limit for s in usage)
    assert remaining(await limiter.usage("keys/k10", "basic", ""), RPD) == 4
    assert await limiter.reset("keys/k1") == 0


async def test_counting_starts_again_after_a_reset(limiter: Limiter, fake_clock: FakeClock) -> None:
    for _ in range(3):
        await limiter.check([KEY], "", 1)
    assert not (await limiter.check([KEY], "", 1)).allowed
    assert await limiter.reset("keys/k1") == 3
    fake_clock.advance(15)
    admitted = await limiter.check([KEY], "", 1)
    assert admitted.allowed
    assert [s.remaining for s in admitted.limits] == [4, 2, 999]


def test_list_tiers_in_file_order(limiter: Limiter) -> None:
    tiers = limiter.list_tiers()
    assert list(tiers)[:3] == ["basic", "daily", "tokens"]
    assert tiers["basic"].models["gpt-4o"].tokens_per_minute == 500


def test_a_reservation_ttl_must_be_positive(tiers: TierCatalog) -> None:
    with pytest.raises(ValueError, match="reservation_ttl"):
        Limiter(MemoryQuotaStore(), tiers, reservation_ttl=0)
