"""Envoy's global rate-limit protocol (`envoy.service.ratelimit.v3.RateLimitService`).

Behaves like envoyproxy/ratelimit, so an Envoy proxy can use this service as its rate-limit
service: the same YAML descriptor files, lookup rules, fixed windows, Redis keys and commands,
and stats. Wiring, from the bottom up:

    stats = EnvoyStats(registry)
    reloader = ConfigReloader(config_dir, stats, merge_domains=options.merge_domain_config)
    reloader.reload()                        # then run reloader.watch() as a task
    store = RedisCounterStore(redis_client, key_prefix=...)  # or MemoryCounterStore(time.time)
    decider = RateLimitDecider(config=reloader.current, store=store, stats=stats, options=options)
    EnvoyRateLimitServicer(decider).add_to_server(server)
"""

from services.ratelimit.envoy.accounting import Code, DescriptorStatus
from services.ratelimit.envoy.config import ConfigError, ConfigFile, RateLimitConfig, load_config
from services.ratelimit.envoy.counters import CounterStore, Increment, MemoryCounterStore
from services.ratelimit.envoy.decision import RateLimitDecider, RateLimitDecision
from services.ratelimit.envoy.options import EnvoyOptions
from services.ratelimit.envoy.redis_counters import RedisCounterStore
from services.ratelimit.envoy.reload import ConfigReloader
from services.ratelimit.envoy.request import Descriptor, Entry, Override, RateLimitRequest
from services.ratelimit.envoy.servicer import EnvoyRateLimitServicer
from services.ratelimit.envoy.stats import EnvoyStats

__all__ = [
    "Code",
    "ConfigError",
    "ConfigFile",
    "ConfigReloader",
    "CounterStore",
    "Descriptor",
    "DescriptorStatus",
    "Entry",
    "EnvoyOptions",
    "EnvoyRateLimitServicer",
    "EnvoyStats",
    "Increment",
    "MemoryCounterStore",
    "Override",
    "RateLimitConfig",
    "RateLimitDecider",
    "RateLimitDecision",
    "RateLimitRequest",
    "RedisCounterStore",
    "load_config",
]
