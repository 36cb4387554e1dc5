"""The flags service's settings from FLAGS_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.flags.app import database_url
from services.flags.settings import FlagsSettings, load
from svckit.settings import SettingsError


def test_defaults_are_the_embedded_service_on_its_port() -> None:
    settings = load({})

    assert (settings.grpc_port, settings.metrics_port) == (50054, 9054)
    assert database_url(settings) == "sqlite+aiosqlite:///.run/flags.sqlite3"
    assert settings.source_files == ()
    assert settings.static_context == {}


def test_lists_and_the_static_context_are_read_from_text() -> None:
    settings = load(
        {
            "FLAGS_SOURCE_FILES": " flags/a.json , b=/tmp/b.json ,, ",
            "FLAGS_STATIC_CONTEXT": '{"region": "eu", "tier": 2}',
            "FLAGS_DATABASE_URL": "postgresql+asyncpg://db/flags",
            "FLAGS_SYNC_METADATA_DISABLED": "true",
        }
    )

    assert settings.source_files == ("flags/a.json", "b=/tmp/b.json")
    assert settings.static_context == {"region": "eu", "tier": 2}
    assert settings.sync_metadata_disabled
    assert database_url(settings) == "postgresql+asyncpg://db/flags"
    assert load({"FLAGS_STATIC_CONTEXT": " "}).static_context == {}


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as bad:
        load(
            {
                "FLAGS_STATIC_CONTEXT": '{"nested": {"no": 1}}',
                "FLAGS_POLL_INTERVAL_SECONDS": "0",
                "FLAGS_GRPC_PORT": "70000",
            }
        )

    names = " ".join(bad.value.problems)
    assert "FLAGS_STATIC_CONTEXT" in names
    assert "FLAGS_POLL_INTERVAL_SECONDS" in names
    assert "FLAGS_GRPC_PORT" in names


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = FlagsSettings(sqlite_path=tmp_path / "f.db")
    with pytest.raises(ValueError, match="frozen"):
        settings.grpc_port = 1
