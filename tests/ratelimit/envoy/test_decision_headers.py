"""Response headers: server-side `RateLimit-*` (S9, S10) and what Envoy builds itself (S14)."""

from __future__ import annotations

from services.ratelimit.envoy.accounting import Code
from services.ratelimit.envoy.decision import RateLimitDecision
from services.ratelimit.envoy.rules import Unit
from services.ratelimit.envoy.stats import EnvoyStats

from .harness import FakeClock, descriptor, request
from .service_cases import consume, decider


async def test_s09_ratelimit_headers_describe_the_refusing_descriptor(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    clock.now = 1202
    target = decider(stats, clock, response_headers_enabled=True)
    decision = await target.decide(
        request("s", descriptor(("minute", "x"), hits=11), descriptor(("nothing", "x")))
    )
    assert decision.statuses[0].code is Code.OVER_LIMIT
    assert decision.response_headers == (
        ("RateLimit-Limit", "10"),
        ("RateLimit-Remaining", "0"),
        ("RateLimit-Reset", "58"),
    )


async def test_s10_header_names_are_configurable(stats: EnvoyStats, clock: FakeClock) -> None:
    clock.now = 1202
    target = decider(
        stats,
        clock,
        response_headers_enabled=True,
        header_limit="A-Ratelimit-Limit",
        header_remaining="A-Ratelimit-Remaining",
        header_reset="A-Ratelimit-Reset",
    )
    decision = await target.decide(
        request("s", descriptor(("minute", "x"), hits=11), descriptor(("nothing", "x")))
    )
    assert decision.response_headers == (
        ("A-Ratelimit-Limit", "10"),
        ("A-Ratelimit-Remaining", "0"),
        ("A-Ratelimit-Reset", "58"),
    )


def envoy_x_ratelimit_headers(decision: RateLimitDecision) -> dict[str, str]:
    """What Envoy's `enable_x_ratelimit_headers: DRAFT_VERSION_03` builds from the statuses."""
    windows = {Unit.SECOND: 1, Unit.MINUTE: 60, Unit.HOUR: 3600, Unit.DAY: 86400}
    limited = [s for s in decision.statuses if s.current_limit is not None]
    closest = min(limited, key=lambda s: s.limit_remaining)
    assert closest.current_limit is not None
    parts = [str(closest.current_limit.requests_per_unit)]
    for status in limited:
        limit = status.current_limit
        assert limit is not None
        if limit.unit in windows:
            part = f"{limit.requests_per_unit};w={windows[limit.unit]}"
            parts.append(part + (f';name="{limit.name}"' if limit.name else ""))
    return {
        "x-ratelimit-limit": ", ".join(parts),
        "x-ratelimit-remaining": str(closest.limit_remaining),
        "x-ratelimit-reset": str(closest.seconds_until_reset),
    }


async def test_s14_statuses_carry_what_envoy_needs_for_x_ratelimit_headers(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock)
    decision = await target.decide(
        request(
            "s", descriptor(("per-ip", "1.2.3.4"), hits=7), descriptor(("per-hour", "x"), hits=10)
        )
    )
    assert [s.limit_remaining for s in decision.statuses] == [3, 990]
    assert envoy_x_ratelimit_headers(decision) == {
        "x-ratelimit-limit": '10, 10;w=1;name="per-ip", 1000;w=3600',
        "x-ratelimit-remaining": "3",
        "x-ratelimit-reset": "1",
    }


async def test_headers_pick_the_smallest_remaining_when_nothing_refuses(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, response_headers_enabled=True)
    decision = await target.decide(
        request("s", descriptor(("twenty", "x"), hits=5), descriptor(("minute", "x"), hits=8))
    )
    assert decision.response_headers[:2] == (
        ("RateLimit-Limit", "10"),
        ("RateLimit-Remaining", "2"),
    )


async def test_headers_prefer_a_refusal_over_an_earlier_exhausted_limit(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, response_headers_enabled=True)
    decision = await target.decide(
        request("s", descriptor(("twenty", "x"), hits=20), descriptor(("minute", "x"), hits=11))
    )
    assert [(s.code, s.limit_remaining) for s in decision.statuses] == [
        (Code.OK, 0),
        (Code.OVER_LIMIT, 0),
    ]
    assert decision.response_headers[0] == ("RateLimit-Limit", "10")


async def test_headers_ignore_quota_refusals_when_choosing(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, response_headers_enabled=True)
    await consume(target, "quota_a")
    decision = await target.decide(
        request("s", descriptor(("twenty", "x"), hits=20), descriptor(("quota_a", "x")))
    )
    assert decision.statuses[1].code is Code.OVER_LIMIT
    assert decision.response_headers[0] == ("RateLimit-Limit", "20")


async def test_no_headers_without_any_limit(stats: EnvoyStats, clock: FakeClock) -> None:
    target = decider(stats, clock, response_headers_enabled=True)
    decision = await target.decide(request("s", descriptor(("free", "x"))))
    assert decision.response_headers == ()
