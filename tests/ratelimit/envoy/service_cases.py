"""The rules behind the service-level cases (S1-S14), shared by their test modules."""

from __future__ import annotations

from typing import Any

from services.ratelimit.envoy.counters import CounterStore, MemoryCounterStore
from services.ratelimit.envoy.decision import RateLimitDecider
from services.ratelimit.envoy.stats import EnvoyStats

from .harness import FakeClock, config_from, descriptor, make_decider, options, request

S_CONFIG = """
domain: s
descriptors:
  - key: minute
    rate_limit: {unit: minute, requests_per_unit: 10}
  - key: hourly
    rate_limit: {unit: hour, requests_per_unit: 10}
  - key: twenty
    rate_limit: {unit: minute, requests_per_unit: 20}
  - key: free
    rate_limit: {unlimited: true}
  - key: shadow_a
    shadow_mode: true
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: shadow_b
    shadow_mode: true
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: quota_a
    quota_mode: true
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: quota_b
    quota_mode: true
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: per-ip
    rate_limit: {name: per-ip, unit: second, requests_per_unit: 10}
  - key: per-hour
    rate_limit: {unit: hour, requests_per_unit: 1000}
  - key: key_1
    value: value_1
    descriptors:
      - key: user
        value: bkthomps
        rate_limit: {name: specific_limit, unit: second, requests_per_unit: 5}
  - key: key_2
    value: value_2
    descriptors:
      - key: user
        value: bkthomps
        rate_limit:
          replaces: [{name: specific_limit}]
          unit: second
          requests_per_unit: 10
"""


def decider(
    stats: EnvoyStats, clock: FakeClock, store: CounterStore | None = None, **overrides: Any
) -> RateLimitDecider:
    store = store if store is not None else MemoryCounterStore(clock)
    return make_decider(config_from(S_CONFIG), store, stats, clock, settings=options(**overrides))


async def consume(target: RateLimitDecider, *keys: str) -> None:
    """Use up the single hit that the 1-per-minute rules allow."""
    for key in keys:
        await target.decide(request("s", descriptor((key, "x"))))
