from __future__ import annotations

import pytest

from services.ratelimit.settings import DEFAULT_TIERS_FILE, load
from svckit.settings import SettingsError


def test_defaults_are_the_embedded_service_on_its_standard_ports() -> None:
    settings = load({})
    assert (settings.grpc_port, settings.metrics_port) == (50051, 9051)
    assert settings.redis_url == ""
    assert settings.failure_mode == "open"
    assert settings.tiers_file == DEFAULT_TIERS_FILE
    assert DEFAULT_TIERS_FILE.is_file()


def test_every_bad_variable_is_listed() -> None:
    env = {
        "RATELIMIT_GRPC_PORT": "70000",
        "RATELIMIT_FAILURE_MODE": "sideways",
        "RATELIMIT_ENVOY_NEAR_LIMIT_RATIO": "2",
        "RATELIMIT_RESERVATION_TTL_SECONDS": "0",
    }
    with pytest.raises(SettingsError) as caught:
        load(env)
    assert sorted(p.split(":")[0] for p in caught.value.problems) == sorted(env)


def test_envoy_options_are_read() -> None:
    settings = load({"RATELIMIT_ENVOY_SHADOW_MODE": "true", "RATELIMIT_ENVOY_HEADER_RESET": "X"})
    assert settings.envoy_shadow_mode
    assert settings.envoy_header_reset == "X"
