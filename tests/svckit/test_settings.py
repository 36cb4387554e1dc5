from __future__ import annotations

from typing import Literal

import pytest

from svckit.settings import ServiceSettings, SettingsError, load_settings


class DemoSettings(ServiceSettings):
    grpc_port: int = 50099
    redis_url: str = ""
    failure_mode: Literal["open", "closed"] = "open"
    ratio: float = 0.5


def test_defaults_apply_when_nothing_is_set() -> None:
    settings = load_settings(DemoSettings, "DEMO", {})
    assert (settings.grpc_port, settings.redis_url, settings.failure_mode) == (50099, "", "open")


def test_values_are_parsed_from_prefixed_variables() -> None:
    env = {"DEMO_GRPC_PORT": "7000", "DEMO_FAILURE_MODE": "closed", "OTHER_GRPC_PORT": "1"}
    settings = load_settings(DemoSettings, "DEMO", env)
    assert (settings.grpc_port, settings.failure_mode) == (7000, "closed")


def test_every_bad_variable_is_reported_at_once() -> None:
    env = {"DEMO_GRPC_PORT": "http", "DEMO_FAILURE_MODE": "maybe", "DEMO_RATIO": "x"}
    with pytest.raises(SettingsError) as caught:
        load_settings(DemoSettings, "DEMO", env)
    names = sorted(problem.split(":")[0] for problem in caught.value.problems)
    assert names == ["DEMO_FAILURE_MODE", "DEMO_GRPC_PORT", "DEMO_RATIO"]


def test_bad_values_are_not_echoed_in_the_error() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(DemoSettings, "DEMO", {"DEMO_GRPC_PORT": "supersecretvalue"})
    assert "supersecretvalue" not in str(caught.value)


def test_settings_are_frozen() -> None:
    settings = load_settings(DemoSettings, "DEMO", {})
    with pytest.raises(ValueError, match="frozen"):
        settings.grpc_port = 1


def test_kubernetes_service_links_are_ignored() -> None:
    settings = load_settings(DemoSettings, "DEMO", {"DEMO_PORT": "tcp://10.0.0.1:50099"})
    assert settings.grpc_port == 50099


@pytest.mark.parametrize("grace", ["-30", "nan", "inf", "3601"])
def test_a_shutdown_grace_that_cannot_drain_calls_is_refused(grace: str) -> None:
    """Negative drops every call at once; nan or inf never end the drain."""
    with pytest.raises(SettingsError) as caught:
        load_settings(DemoSettings, "DEMO", {"DEMO_SHUTDOWN_GRACE_SECONDS": grace})
    assert caught.value.problems[0].startswith("DEMO_SHUTDOWN_GRACE_SECONDS")
