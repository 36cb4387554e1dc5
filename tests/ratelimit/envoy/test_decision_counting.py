"""Counting against a store: digest cases R1-R16, each run on the memory store and real Redis.

The reference's tests script Redis replies; here earlier hits are seeded through the store
itself so the counter really holds the reply value, and the assertions read the store's real
state (key names, values, TTLs).
"""

from __future__ import annotations

import pytest

from services.ratelimit.envoy.accounting import Code, DescriptorStatus
from services.ratelimit.envoy.counters import MemoryCounterStore
from services.ratelimit.envoy.decision import RateLimitDecider
from services.ratelimit.envoy.rules import RateLimit, Unit
from services.ratelimit.envoy.stats import EnvoyStats, RuleStat

from .harness import (
    CountingStore,
    FakeClock,
    FixedJitter,
    MemoryView,
    RedisView,
    StoreView,
    config_from,
    descriptor,
    make_decider,
    options,
    request,
)

R_CONFIG = """
domain: domain
descriptors:
  - key: key
    value: value
    rate_limit: {unit: second, requests_per_unit: 10}
  - key: key2
    value: value2
    descriptors:
      - key: subkey2
        value: subvalue2
        rate_limit: {unit: minute, requests_per_unit: 10}
  - key: key3
    value: value3
    rate_limit: {unit: hour, requests_per_unit: 10}
    descriptors:
      - key: subkey3
        value: subvalue3
        rate_limit: {unit: day, requests_per_unit: 10}
  - key: key4
    value: value4
    rate_limit: {unit: hour, requests_per_unit: 15}
  - key: shadow
    value: value4
    shadow_mode: true
    rate_limit: {unit: hour, requests_per_unit: 15}
  - key: files
    value: "files/*"
    share_threshold: true
    rate_limit: {unit: second, requests_per_unit: 10}
  - key: per_second
    rate_limit: {unit: second, requests_per_unit: 10}
  - key: per_minute
    rate_limit: {unit: minute, requests_per_unit: 10}
"""


def decider_for(
    view: StoreView, stats: EnvoyStats, clock: FakeClock, **overrides: object
) -> RateLimitDecider:
    jitter = overrides.pop("jitter", None)
    assert jitter is None or isinstance(jitter, FixedJitter)
    return make_decider(
        config_from(R_CONFIG),
        view.store,
        stats,
        clock,
        settings=options(**overrides),
        jitter=jitter,
    )


NO_HITS = {stat.value: 0 for stat in RuleStat}


def hits(stats: EnvoyStats, key: str) -> dict[str, int]:
    return {stat.value: stats.rule_hits(key, stat) for stat in RuleStat}


def status(code: Code, limit: RateLimit, remaining: int, reset: int) -> DescriptorStatus:
    return DescriptorStatus(code, limit, remaining, reset)


async def test_r01_incrby_and_expire_one_key(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    await view.seed("domain_key_value_1234", 4)
    decision = await decider_for(view, stats, clock).decide(
        request("domain", descriptor(("key", "value")))
    )
    assert decision.statuses == (status(Code.OK, RateLimit(10, Unit.SECOND), 5, 1),)
    assert await view.value("domain_key_value_1234") == 5
    assert await view.ttl("domain_key_value_1234") == 1
    assert await view.keys() == {"domain_key_value_1234"}
    assert hits(stats, "domain.key_value") == {
        **NO_HITS,
        "total_hits": 1,
        "within_limit": 1,
    }


async def test_r02_only_limited_descriptors_reach_the_store(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    key = "domain_key2_value2_subkey2_subvalue2_1200"
    await view.seed(key, 10)
    decision = await decider_for(view, stats, clock).decide(
        request(
            "domain",
            descriptor(("key2", "value2"), hits=0),
            descriptor(("key2", "value2"), ("subkey2", "subvalue2"), hits=1),
        )
    )
    assert decision.statuses == (
        DescriptorStatus(Code.OK),
        status(Code.OVER_LIMIT, RateLimit(10, Unit.MINUTE), 0, 60 - 1234 % 60),
    )
    assert await view.keys() == {key}
    assert await view.value(key) == 11
    assert await view.ttl(key) == 60
    assert stats.rule_hits("domain.key2_value2.subkey2_subvalue2", RuleStat.OVER_LIMIT) == 1


async def test_r03_zero_hits_peek_and_judge_without_consuming(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    clock.now = 1_000_000
    hour, day = "domain_key3_value3_997200", "domain_key3_value3_subkey3_subvalue3_950400"
    await view.seed(hour, 11)
    await view.seed(day, 12)
    decision = await decider_for(view, stats, clock).decide(
        request(
            "domain",
            descriptor(("key3", "value3"), hits=0),
            descriptor(("key3", "value3"), ("subkey3", "subvalue3"), hits=1),
        )
    )
    assert [s.code for s in decision.statuses] == [Code.OVER_LIMIT, Code.OVER_LIMIT]
    assert (await view.value(hour), await view.value(day)) == (11, 13)
    assert (await view.ttl(hour), await view.ttl(day)) == (3600, 86400)
    peek, counted = (
        hits(stats, "domain.key3_value3"),
        hits(stats, "domain.key3_value3.subkey3_subvalue3"),
    )
    assert (peek["total_hits"], peek["over_limit"]) == (0, 0)
    assert (counted["total_hits"], counted["over_limit"]) == (1, 1)


async def r04_sequence(
    view: StoreView, decider: RateLimitDecider, key: str
) -> list[DescriptorStatus]:
    """Counter replies 11, 13, 16 for three calls, as in the reference's R4 test."""
    cache_key = f"domain_{key}_value4_997200"
    results = []
    for seed in (10, 1, 2):
        await view.seed(cache_key, seed)
        decision = await decider.decide(request("domain", descriptor((key, "value4"))))
        results.append(decision.statuses[0])
    return results


async def test_r04_near_limit_then_over_limit(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    clock.now = 1_000_000
    limit, reset = RateLimit(15, Unit.HOUR), 3600 - 1_000_000 % 3600
    statuses = await r04_sequence(view, decider_for(view, stats, clock), "key4")
    assert statuses == [
        status(Code.OK, limit, 4, reset),
        status(Code.OK, limit, 2, reset),
        status(Code.OVER_LIMIT, limit, 0, reset),
    ]
    assert hits(stats, "domain.key4_value4") == {
        **NO_HITS,
        "total_hits": 3,
        "within_limit": 2,
        "near_limit": 1,
        "over_limit": 1,
    }


@pytest.mark.parametrize(
    ("limit", "added", "reply", "code", "remaining", "over", "near", "within"),
    [
        pytest.param(20, 3, 5, Code.OK, 15, 0, 0, 3, id="r05"),
        pytest.param(8, 2, 7, Code.OK, 1, 0, 1, 2, id="r06"),
        pytest.param(20, 3, 19, Code.OK, 1, 0, 3, 3, id="r07"),
        pytest.param(20, 3, 22, Code.OVER_LIMIT, 0, 2, 1, 0, id="r08"),
        pytest.param(20, 7, 22, Code.OVER_LIMIT, 0, 2, 4, 0, id="r09"),
        pytest.param(10, 3, 30, Code.OVER_LIMIT, 0, 3, 0, 0, id="r10"),
    ],
)
async def test_r05_to_r10_hits_addend_accounting(
    view: StoreView,
    stats: EnvoyStats,
    clock: FakeClock,
    limit: int,
    added: int,
    reply: int,
    code: Code,
    remaining: int,
    over: int,
    near: int,
    within: int,
) -> None:
    rule = f"{{unit: second, requests_per_unit: {limit}}}"
    config = config_from(
        f"domain: domain\ndescriptors:\n  - {{key: key, value: value, rate_limit: {rule}}}\n"
    )
    await view.seed("domain_key_value_1234", reply - added)
    decider = make_decider(config, view.store, stats, clock)
    decision = await decider.decide(
        request("domain", descriptor(("key", "value")), hits_addend=added)
    )
    assert decision.statuses == (status(code, RateLimit(limit, Unit.SECOND), remaining, 1),)
    counted = hits(stats, "domain.key_value")
    assert counted["total_hits"] == added
    assert (counted["over_limit"], counted["near_limit"], counted["within_limit"]) == (
        over,
        near,
        within,
    )


async def test_r11_expiry_jitter_is_added_to_the_window(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    jitter = FixedJitter(100)
    decider = decider_for(view, stats, clock, expiration_jitter_max_seconds=3600, jitter=jitter)
    await decider.decide(request("domain", descriptor(("key", "value"))))
    assert jitter.stops == [3600]
    assert await view.ttl("domain_key_value_1234") == 101


async def test_r12_cache_key_prefix(view: StoreView, stats: EnvoyStats, clock: FakeClock) -> None:
    decider = decider_for(view, stats, clock, cache_key_prefix="prefix:")
    await decider.decide(request("domain", descriptor(("key", "value"))))
    assert await view.keys() == {"prefix:domain_key_value_1234"}


async def test_r13_share_threshold_values_share_one_counter(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    decider = decider_for(view, stats, clock)
    for value in ("files/a.pdf", "files/b.csv"):
        await decider.decide(request("domain", descriptor(("files", value))))
    assert await view.keys() == {"domain_files_files/*_1234"}
    assert await view.value("domain_files_files/*_1234") == 2


def _with_local_cache(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> tuple[CountingStore, RateLimitDecider]:
    """R14/R15's set-up: the R config, a local cache, and a store that counts its batches."""
    clock.now = 1_000_000
    counting = CountingStore(view.store)
    decider = make_decider(
        config_from(R_CONFIG), counting, stats, clock, settings=options(local_cache_max_entries=10)
    )
    return counting, decider


async def test_r14_local_cache_answers_over_limit_without_the_store(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    counting, decider = _with_local_cache(view, stats, clock)
    await r04_sequence(view, decider, "key4")
    sent = len(counting.batches)
    decision = await decider.decide(request("domain", descriptor(("key4", "value4"))))
    assert decision.overall_code is Code.OVER_LIMIT
    assert len(counting.batches) == sent
    assert await view.value("domain_key4_value4_997200") == 16
    counted = hits(stats, "domain.key4_value4")
    assert counted["over_limit"] == 2
    assert counted["over_limit_with_local_cache"] == 1
    assert counted["total_hits"] == 4


async def test_r15_local_cache_with_shadow_mode_answers_ok(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    counting, decider = _with_local_cache(view, stats, clock)
    third = (await r04_sequence(view, decider, "shadow"))[2]
    assert (third.code, third.limit_remaining) == (Code.OK, 0)
    assert stats.rule_hits("domain.shadow_value4", RuleStat.SHADOW_MODE) == 1
    sent = len(counting.batches)
    decision = await decider.decide(request("domain", descriptor(("shadow", "value4"))))
    assert decision.overall_code is Code.OK
    assert decision.statuses[0].code is Code.OK
    assert len(counting.batches) == sent
    assert stats.rule_hits("domain.shadow_value4", RuleStat.SHADOW_MODE) == 2


async def test_r16_second_limits_go_to_the_per_second_store(
    view: StoreView, stats: EnvoyStats, clock: FakeClock
) -> None:
    if isinstance(view, RedisView):
        per_second: StoreView = RedisView(view.client, view.prefix + "persecond:")
    else:
        per_second = MemoryView(clock)
    decider = make_decider(
        config_from(R_CONFIG), view.store, stats, clock, per_second_store=per_second.store
    )
    await decider.decide(
        request("domain", descriptor(("per_second", "a")), descriptor(("per_minute", "b")))
    )
    assert await per_second.keys() == {"domain_per_second_a_1234"}
    assert await view.keys() == {"domain_per_minute_b_1200"} | (
        {"persecond:domain_per_second_a_1234"} if isinstance(view, RedisView) else set()
    )


async def test_counter_keys_of_the_next_window_start_fresh(
    stats: EnvoyStats, clock: FakeClock
) -> None:
    store = MemoryCounterStore(clock)
    decider = make_decider(config_from(R_CONFIG), store, stats, clock)
    for _ in range(11):
        last = await decider.decide(request("domain", descriptor(("key", "value"))))
    assert last.overall_code is Code.OVER_LIMIT
    clock.now = 1235
    fresh = await decider.decide(request("domain", descriptor(("key", "value"))))
    assert fresh.statuses[0].limit_remaining == 9
