"""Service-level behaviour of the decider: digest cases S1-S8 and S11-S13, quota mode,
unknown domains, and exact counts under concurrency (headers, S9-S14, have their own module)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from prometheus_client import generate_latest
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from services.ratelimit.backend import BackendUnavailable
from services.ratelimit.envoy.accounting import Code, DescriptorStatus
from services.ratelimit.envoy.counters import MemoryCounterStore
from services.ratelimit.envoy.decision import RateLimitDecision
from services.ratelimit.envoy.redis_counters import RedisCounterStore
from services.ratelimit.envoy.rules import UINT32_MAX, RateLimit, Unit
from services.ratelimit.envoy.stats import EnvoyStats, RuleStat
from svckit.errors import FailedPrecondition, InvalidArgument

from .harness import (
    FakeClock,
    StoreView,
    config_from,
    descriptor,
    make_decider,
    request,
)
from .service_cases import consume, decider


def no_hits_counted(stats: EnvoyStats) -> bool:
    text = generate_latest(stats.registry).decode()
    return "ratelimit_envoy_rule_hits_total{" not in text


async def test_s01_empty_domain_is_invalid(stats: EnvoyStats, clock: FakeClock) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await decider(stats, clock).decide(request("", descriptor(("minute", "x"))))
    assert caught.value.message == "rate limit domain must not be empty"
    assert [v.field for v in caught.value.violations] == ["domain"]
    assert stats.count("service_error") == 1
    assert no_hits_counted(stats)


async def test_s02_empty_descriptor_list_is_invalid(stats: EnvoyStats, clock: FakeClock) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await decider(stats, clock).decide(request("s"))
    assert caught.value.message == "rate limit descriptor list must not be empty"
    assert stats.count("service_error") == 1


async def test_s03_no_config_loaded_yet(stats: EnvoyStats, clock: FakeClock) -> None:
    target = make_decider(None, MemoryCounterStore(clock), stats, clock)
    with pytest.raises(FailedPrecondition) as caught:
        await target.decide(request("s", descriptor(("minute", "x"))))
    assert caught.value.message == "no rate limit configuration loaded"
    assert stats.count("service_error") == 1


async def test_s04_store_down_is_unavailable_and_counted(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    client = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        target = decider(stats, clock, RedisCounterStore(client))
        with pytest.raises(BackendUnavailable):
            await target.decide(request("s", descriptor(("minute", "x"))))
    finally:
        await client.aclose()
    assert stats.count("redis_error") == 1
    assert stats.count("service_error") == 0


async def test_s05_limited_unmatched_and_unlimited_in_one_request(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    decision = await decider(stats, clock).decide(
        request(
            "s",
            descriptor(("minute", "x")),
            descriptor(("nothing", "x")),
            descriptor(("free", "x")),
        )
    )
    assert decision.overall_code is Code.OK
    assert decision.statuses == (
        DescriptorStatus(Code.OK, RateLimit(10, Unit.MINUTE), 9, 60 - 1234 % 60),
        DescriptorStatus(Code.OK),
        DescriptorStatus(Code.OK, None, UINT32_MAX, None),
    )


async def test_s06_shadow_rules_never_refuse(stats: EnvoyStats, clock: FakeClock) -> None:
    target = decider(stats, clock)
    await consume(target, "shadow_a")
    decision = await target.decide(
        request("s", descriptor(("shadow_a", "x")), descriptor(("shadow_b", "x")))
    )
    assert decision.overall_code is Code.OK
    assert [s.code for s in decision.statuses] == [Code.OK, Code.OK]
    assert decision.statuses[0].limit_remaining == 0
    assert stats.rule_hits("s.shadow_a", RuleStat.SHADOW_MODE) == 1
    assert stats.rule_hits("s.shadow_a", RuleStat.OVER_LIMIT) == 1


async def test_shadow_mode_counts_only_the_hits_past_the_limit(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    decision = await decider(stats, clock).decide(
        request("s", descriptor(("shadow_a", "x"), hits=3))
    )
    assert decision.statuses[0].code is Code.OK
    assert stats.rule_hits("s.shadow_a", RuleStat.SHADOW_MODE) == 2
    assert stats.rule_hits("s.shadow_a", RuleStat.OVER_LIMIT) == 2


async def test_s07_a_normal_rule_over_still_refuses(stats: EnvoyStats, clock: FakeClock) -> None:
    target = decider(stats, clock)
    await consume(target, "shadow_a")
    decision = await target.decide(
        request("s", descriptor(("shadow_a", "x")), descriptor(("minute", "x"), hits=11))
    )
    assert decision.overall_code is Code.OVER_LIMIT
    assert [s.code for s in decision.statuses] == [Code.OK, Code.OVER_LIMIT]


async def test_s08_global_shadow_mode_keeps_statuses_visible(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, shadow_mode=True)
    decision = await target.decide(
        request("s", descriptor(("twenty", "x"), hits=21), descriptor(("minute", "x")))
    )
    assert decision.overall_code is Code.OK
    assert decision.statuses[0].code is Code.OVER_LIMIT
    assert stats.count("global_shadow_mode") == 1


async def test_s11_replaced_limit_is_not_counted(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    decision = await decider(stats, clock, view.store).decide(
        request(
            "s",
            descriptor(("key_1", "value_1"), ("user", "bkthomps")),
            descriptor(("key_2", "value_2"), ("user", "bkthomps")),
        )
    )
    assert decision.statuses == (
        DescriptorStatus(Code.OK),
        DescriptorStatus(Code.OK, RateLimit(10, Unit.SECOND), 9, 1),
    )
    assert await view.keys() == {"s_key_2_value_2_user_bkthomps_1234"}
    assert stats.rule_hits("s.key_1_value_1.user_bkthomps", RuleStat.TOTAL_HITS) == 0


async def test_s12_twenty_per_minute_over_25_calls(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, view.store)
    for call in range(1, 26):
        decision = await target.decide(request("s", descriptor(("twenty", "fresh"))))
        (status,) = decision.statuses
        if call <= 20:
            assert (decision.overall_code, status.limit_remaining) == (Code.OK, 20 - call)
        else:
            assert (decision.overall_code, status.limit_remaining) == (Code.OVER_LIMIT, 0)
        assert stats.rule_hits("s.twenty", RuleStat.TOTAL_HITS) == call
        assert stats.rule_hits("s.twenty", RuleStat.OVER_LIMIT) == max(0, call - 20)


async def test_s13_two_limits_in_one_request_over_15_calls(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, view.store)
    for call in range(1, 16):
        decision = await target.decide(
            request("s", descriptor(("twenty", "a")), descriptor(("hourly", "b")))
        )
        first, second = decision.statuses
        assert first.limit_remaining == 20 - call
        if call <= 10:
            assert decision.overall_code is Code.OK
            assert second.limit_remaining == 10 - call
        else:
            assert decision.overall_code is Code.OVER_LIMIT
            assert (second.code, second.limit_remaining) == (Code.OVER_LIMIT, 0)


async def test_quota_mode_refuses_only_when_every_quota_descriptor_is_over(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, response_headers_enabled=True)
    await consume(target, "quota_a")
    one_over = await target.decide(
        request("s", descriptor(("quota_a", "x")), descriptor(("quota_b", "x")))
    )
    assert one_over.overall_code is Code.OK
    assert one_over.statuses[0].code is Code.OVER_LIMIT
    all_over = await target.decide(
        request("s", descriptor(("quota_a", "x")), descriptor(("quota_b", "x")))
    )
    assert all_over.overall_code is Code.OVER_LIMIT


async def test_global_quota_mode_applies_to_every_descriptor(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    target = decider(stats, clock, quota_mode=True)
    await consume(target, "shadow_a")
    decision = await target.decide(
        request("s", descriptor(("minute", "x"), hits=11), descriptor(("twenty", "x")))
    )
    assert decision.statuses[0].code is Code.OVER_LIMIT
    assert decision.overall_code is Code.OK


async def test_unknown_domain_counts_every_descriptor(stats: EnvoyStats, clock: FakeClock) -> None:
    decision = await decider(stats, clock).decide(
        request("elsewhere", descriptor(("a", "b")), descriptor(("c", "d")))
    )
    assert decision == RateLimitDecision(Code.OK, (DescriptorStatus(Code.OK),) * 2)
    assert stats.count("domain_not_found", {"domain": "elsewhere"}) == 2


async def test_concurrent_requests_admit_exactly_the_limit(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    rule = "{unit: minute, requests_per_unit: 150}"
    config = config_from(f"domain: c\ndescriptors:\n  - {{key: k, rate_limit: {rule}}}\n")
    target = make_decider(config, view.store, stats, clock)
    decisions = await asyncio.gather(
        *(target.decide(request("c", descriptor(("k", "v")))) for _ in range(200))
    )
    codes = [d.overall_code for d in decisions]
    assert codes.count(Code.OK) == 150
    assert codes.count(Code.OVER_LIMIT) == 50
    assert sorted(d.statuses[0].limit_remaining for d in decisions)[-150:] == list(range(150))
    assert await view.value("c_k_v_1200") == 200
