"""The retry policy: backoff with jitter, its cap, and the upstream's Retry-After."""

from __future__ import annotations

import random

import pytest

from services.router.providers.base import ProviderError
from services.router.retry import RetryPolicy, is_retryable, retry_after

POLICY = RetryPolicy(base_delay_seconds=0.1, max_delay_seconds=5, multiplier=2)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    assert [POLICY.backoff(attempt) for attempt in range(1, 9)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    )


def test_a_very_late_attempt_waits_the_cap() -> None:
    assert POLICY.backoff(100_000) == 5.0
    assert RetryPolicy(multiplier=10).backoff(400) == 5.0


def test_full_jitter_spreads_delays_over_zero_to_the_backoff() -> None:
    rng = random.Random(7)
    for attempt in range(1, 10):
        delays = [POLICY.delay(attempt, None, rng) for _ in range(200)]
        ceiling = POLICY.backoff(attempt)
        assert all(d is not None and 0 <= d <= ceiling for d in delays)
        assert min(d for d in delays if d is not None) < ceiling * 0.1
        assert max(d for d in delays if d is not None) > ceiling * 0.9


def test_delays_are_reproducible_from_the_seed() -> None:
    first = [POLICY.delay(3, None, random.Random(42)) for _ in range(3)]
    assert first == [random.Random(42).uniform(0, 0.4)] * 3


def test_equal_jitter_keeps_at_least_half_the_backoff() -> None:
    policy = RetryPolicy(jitter="equal")
    rng = random.Random(1)
    delays = [policy.delay(4, None, rng) for _ in range(200)]
    assert all(d is not None and 0.4 <= d <= 0.8 for d in delays)


def test_no_jitter_waits_the_backoff_exactly() -> None:
    policy = RetryPolicy(jitter="none")
    assert policy.delay(2, None, random.Random(0)) == pytest.approx(0.2)


def test_retry_after_is_honoured_as_a_minimum() -> None:
    rng = random.Random(3)
    assert POLICY.delay(1, 2.5, rng) == 2.5
    assert POLICY.delay(1, 0.0, rng) is not None


def test_retry_after_may_exceed_the_backoff_cap() -> None:
    assert POLICY.delay(1, 20.0, random.Random(3)) == 20.0


def test_the_backoff_wins_when_it_is_longer_than_retry_after() -> None:
    policy = RetryPolicy(jitter="none")
    assert policy.delay(5, 0.5, random.Random(3)) == pytest.approx(1.6)


def test_a_retry_after_beyond_the_limit_means_fall_back() -> None:
    rng = random.Random(3)
    assert POLICY.delay(1, 30.0, rng) == 30.0
    assert POLICY.delay(1, 30.5, rng) is None
    assert RetryPolicy(max_retry_after_seconds=60).delay(1, 45.0, rng) == 45.0


def test_attempts_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="attempt"):
        POLICY.delay(0, None, random.Random(0))


@pytest.mark.parametrize(
    "settings",
    [
        {"base_delay_seconds": -1},
        {"base_delay_seconds": 2, "max_delay_seconds": 1},
        {"multiplier": 0.5},
        {"jitter": "sometimes"},
        {"max_retry_after_seconds": -1},
        {"max_attempts": 0},
    ],
)
def test_a_nonsensical_policy_is_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(settings)) if len(settings) == 1 else "max"):
        RetryPolicy(**settings)  # type: ignore[arg-type]


def test_only_retryable_provider_errors_are_retried() -> None:
    assert is_retryable(ProviderError("d: 503", retryable=True, status=503))
    assert not is_retryable(ProviderError("d: 400", retryable=False, status=400))
    assert not is_retryable(ValueError("a bug"))
    assert not is_retryable(TimeoutError())


def test_retry_after_is_read_from_provider_errors_only() -> None:
    limited = ProviderError("d: 429", retryable=True, status=429, retry_after_seconds=3.0)
    assert retry_after(limited) == 3.0
    assert retry_after(ProviderError("d: 500", retryable=True)) is None
    assert retry_after(ValueError("x")) is None
