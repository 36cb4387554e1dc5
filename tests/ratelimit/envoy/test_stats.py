"""Stats: the reference's sanitizing, a bounded label set, a registry of our own."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from services.ratelimit.envoy.stats import OVERFLOW_LABEL, EnvoyStats, RuleStat, sanitize_stats_key


@pytest.mark.parametrize(
    ("key", "sanitized"),
    [
        ("d.remote_address_10.0.0.1", "d.remote_address_10_0_0_1"),
        ("d.host_a:8080|x", "d.host_a_8080_x"),
        ("d.version_1.2.3", "d.version_1.2.3"),
    ],
)
def test_sanitize_stats_key(key: str, sanitized: str) -> None:
    assert sanitize_stats_key(key) == sanitized


def test_rule_hits_use_the_sanitized_key() -> None:
    stats = EnvoyStats(CollectorRegistry())
    stats.add_hits("d.ip_1.2.3.4", RuleStat.TOTAL_HITS, 2)
    assert stats.rule_hits("d.ip_1.2.3.4", RuleStat.TOTAL_HITS) == 2
    sample = stats.registry.get_sample_value(
        "ratelimit_envoy_rule_hits_total", {"key": "d.ip_1_2_3_4", "stat": "total_hits"}
    )
    assert sample == 2


def test_label_values_are_bounded() -> None:
    stats = EnvoyStats(CollectorRegistry(), max_label_values=2)
    for key in ("a", "b", "c", "d", "a"):
        stats.add_hits(key, RuleStat.TOTAL_HITS, 1)
    assert stats.rule_hits("a", RuleStat.TOTAL_HITS) == 2
    assert stats.rule_hits(OVERFLOW_LABEL, RuleStat.TOTAL_HITS) == 2
    for domain in ("x", "y", "z"):
        stats.domain_not_found(domain)
    assert stats.count("domain_not_found", {"domain": OVERFLOW_LABEL}) == 1


def test_counters_live_in_the_given_registry_only() -> None:
    registry = CollectorRegistry()
    EnvoyStats(registry)
    EnvoyStats(CollectorRegistry())  # a second instance would clash in a shared registry
    assert registry.get_sample_value("ratelimit_envoy_config_load_error_total") == 0
    assert REGISTRY.get_sample_value("ratelimit_envoy_config_load_error_total") is None
