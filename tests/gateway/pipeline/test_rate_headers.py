"""The rate-limit answer as OpenAI's headers: the tightest limit of each kind, resets written
as OpenAI writes them."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb

from gateway.pipeline.rate_headers import openai_duration, ratelimit_headers

NOW = 1_000_000.0


def limit(kind: pb.LimitKind, value: int, remaining: int, reset_in: float) -> pb.LimitStatus:
    reset = Timestamp()
    reset.FromNanoseconds(int((NOW + reset_in) * 1e9))
    return pb.LimitStatus(kind=kind, limit=value, remaining=remaining, reset_time=reset)


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (0.0, "0ms"),
        (0.0201, "21ms"),
        (1.0, "1s"),
        (1.2, "2s"),
        (60.0, "1m0s"),
        (360.0, "6m0s"),
        (3723.0, "1h2m3s"),
    ],
)
def test_durations_are_written_as_openai_writes_them(seconds: float, written: str) -> None:
    assert openai_duration(seconds) == written


def test_each_trio_describes_the_tightest_limit_of_its_kind() -> None:
    limits = [
        limit(pb.LIMIT_KIND_REQUESTS_PER_DAY, 1000, 990, 40_000),
        limit(pb.LIMIT_KIND_REQUESTS_PER_MINUTE, 60, 5, 30),
        limit(pb.LIMIT_KIND_TOKENS_PER_MINUTE, 10_000, 7_000, 30),
        limit(pb.LIMIT_KIND_TOKENS_PER_MINUTE, 5_000, 7_000, 12),
    ]

    headers = ratelimit_headers(limits, NOW)

    assert headers == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "5",
        "x-ratelimit-reset-requests": "30s",
        "x-ratelimit-limit-tokens": "5000",
        "x-ratelimit-remaining-tokens": "7000",
        "x-ratelimit-reset-tokens": "12s",
    }


def test_a_kind_without_limits_has_no_headers_and_remaining_is_never_negative() -> None:
    headers = ratelimit_headers([limit(pb.LIMIT_KIND_REQUESTS_PER_MINUTE, 3, -2, -5)], NOW)

    assert headers == {
        "x-ratelimit-limit-requests": "3",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "0ms",
    }
