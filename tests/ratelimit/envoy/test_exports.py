"""The package's public surface is exactly what `__all__` lists."""

from __future__ import annotations

import services.ratelimit.envoy as envoy_api


def test_all_names_exist_and_are_sorted() -> None:
    assert sorted(envoy_api.__all__) == envoy_api.__all__
    for name in envoy_api.__all__:
        assert getattr(envoy_api, name) is not None
