"""Envoy options: reference defaults, and refusal of values that cannot work."""

from __future__ import annotations

import pytest

from services.ratelimit.envoy.options import EnvoyOptions


def test_defaults_match_the_reference_server() -> None:
    options = EnvoyOptions()
    assert (options.near_limit_ratio, options.expiration_jitter_max_seconds) == (0.8, 300)
    assert (options.header_limit, options.header_remaining, options.header_reset) == (
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
    )
    assert not any(
        (options.shadow_mode, options.response_headers_enabled, options.merge_domain_config)
    )
    assert (options.cache_key_prefix, options.local_cache_max_entries) == ("", 0)


def test_bad_values_are_all_reported() -> None:
    with pytest.raises(ValueError, match="near_limit_ratio") as caught:
        EnvoyOptions(
            near_limit_ratio=1.5,
            expiration_jitter_max_seconds=-1,
            local_cache_max_entries=-1,
            response_headers_enabled=True,
            header_reset="",
        )
    assert str(caught.value).count(";") == 3
