"""Prometheus counters mirroring envoyproxy/ratelimit's statsd stats, all in one place.

Reference stat, then its name here:

- `ratelimit.service.rate_limit.<key>.<stat>`: `ratelimit_envoy_rule_hits_total{key, stat}`
- `ratelimit.service.rate_limit.<domain>.domain_not_found`:
  `ratelimit_envoy_domain_not_found_total{domain}`
- `ratelimit.service.config_load_success`, `..._error`:
  `ratelimit_envoy_config_load_success_total`, `ratelimit_envoy_config_load_error_total`
- `ratelimit.service.global_shadow_mode`: `ratelimit_envoy_global_shadow_mode_total`
- `ratelimit.service.call.should_rate_limit.redis_error`: `ratelimit_envoy_redis_error_total`
- `ratelimit.service.call.should_rate_limit.service_error`: `ratelimit_envoy_service_error_total`

`stat` is one of the reference names (`total_hits`, `over_limit`, `near_limit`,
`within_limit`, `over_limit_with_local_cache`, `shadow_mode`), and `key` the sanitized stats
key (`test-domain.key1_value1.subkey1`), so dashboards built on the reference's Prometheus
mapping translate one to one.

Label cardinality: stats keys come from the config, except with `detailed_metric`,
`value_to_metric`, request overrides and unknown domains, where runtime values reach the
label. Past `max_label_values` distinct keys (or domains) further ones are counted under
`key="_overflow"`, so a client sending random values cannot grow the registry without bound.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter

OVERFLOW_LABEL = "_overflow"

_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")


class RuleStat(StrEnum):
    """The reference's per-key stat names, used as the `stat` label."""

    TOTAL_HITS = "total_hits"
    OVER_LIMIT = "over_limit"
    NEAR_LIMIT = "near_limit"
    WITHIN_LIMIT = "within_limit"
    OVER_LIMIT_WITH_LOCAL_CACHE = "over_limit_with_local_cache"
    SHADOW_MODE = "shadow_mode"


def sanitize_stats_key(key: str) -> str:
    """The reference's `SanitizeStatName`: `:` and `|` become `_`, as do dots in IPv4 addresses."""
    key = key.replace(":", "_").replace("|", "_")
    return _IPV4.sub(lambda match: match.group(0).replace(".", "_"), key)


class EnvoyStats:
    """The counters of the Envoy API, registered in the registry the service passes in."""

    def __init__(self, registry: CollectorRegistry, *, max_label_values: int = 10_000) -> None:
        self.registry = registry
        self._max = max_label_values
        self._keys: set[str] = set()
        self._domains: set[str] = set()
        self._children: dict[tuple[str, RuleStat], Any] = {}
        self._rule_hits = Counter(
            "ratelimit_envoy_rule_hits",
            "Hits per Envoy rate-limit stats key, by reference stat name.",
            ["key", "stat"],
            registry=registry,
        )
        self._domain_not_found = Counter(
            "ratelimit_envoy_domain_not_found",
            "Descriptors whose domain no config file defines.",
            ["domain"],
            registry=registry,
        )
        self.config_load_success = self._plain("config_load_success", "Config loads that took.")
        self.config_load_error = self._plain(
            "config_load_error", "Config loads refused; the previous config stayed active."
        )
        self.global_shadow_mode = self._plain(
            "global_shadow_mode", "OVER_LIMIT answers turned OK by global shadow mode."
        )
        self.redis_error = self._plain("redis_error", "Calls failed by the counter store.")
        self.service_error = self._plain(
            "service_error", "Calls refused: bad input or no config loaded."
        )

    def _plain(self, name: str, documentation: str) -> Counter:
        return Counter(f"ratelimit_envoy_{name}", documentation, registry=self.registry)

    def add_hits(self, stats_key: str, stat: RuleStat, amount: int) -> None:
        """Add to a per-key stat; like the reference, a zero amount still creates the series.

        The labelled child is looked up once per key and stat (this runs for every descriptor
        of every request), in a cache bounded like the labels themselves.
        """
        child = self._children.get((stats_key, stat))
        if child is None:
            label = self._bounded(self._keys, sanitize_stats_key(stats_key))
            child = self._rule_hits.labels(key=label, stat=stat.value)
            if len(self._children) < self._max * len(RuleStat):
                self._children[(stats_key, stat)] = child
        child.inc(amount)

    def domain_not_found(self, domain: str, count: int = 1) -> None:
        self._domain_not_found.labels(domain=self._bounded(self._domains, domain)).inc(count)

    def rule_hits(self, stats_key: str, stat: RuleStat) -> int:
        """Current value of a per-key stat (0 if never touched); for tests and debugging."""
        value = self.registry.get_sample_value(
            "ratelimit_envoy_rule_hits_total", {"key": sanitize_stats_key(stats_key), "stat": stat}
        )
        return int(value or 0)

    def count(self, name: str, labels: Mapping[str, str] | None = None) -> int:
        """Current value of `ratelimit_envoy_<name>_total`, e.g. `count("redis_error")`."""
        value = self.registry.get_sample_value(f"ratelimit_envoy_{name}_total", dict(labels or {}))
        return int(value or 0)

    def _bounded(self, seen: set[str], label: str) -> str:
        if label in seen:
            return label
        if len(seen) >= self._max:
            return OVERFLOW_LABEL
        seen.add(label)
        return label
