"""The flags service's settings: every `FLAGS_*` variable, read once at start-up.

FLAGS_DATABASE_URL            flag sets in PostgreSQL (postgresql+asyncpg://...), shared by
                              every replica; empty: SQLite at FLAGS_SQLITE_PATH
FLAGS_SOURCE_FILES            flagd JSON files loaded at start, comma-separated; each entry
                              `path` or `name=path`, the name (default: the path as
                              written) being the flag set id selectors name
FLAGS_STRICT_SOURCES          refuse source files whose targeting cannot evaluate (by
                              default they load with a warning, as in flagd)
FLAGS_STATIC_CONTEXT          a JSON object merged over every evaluation context and sent
                              to in-process clients (flagd's -X / context-value)
FLAGS_SYNC_METADATA_DISABLED  GetMetadata answers UNIMPLEMENTED (flagd's
                              --disable-sync-metadata); the context still travels as
                              sync_context
FLAGS_POLL_INTERVAL_SECONDS   how often replicas check the revision counter
FLAGS_KEEPALIVE_SECONDS       EventStream keep_alive after this long without a message
FLAGS_ROLLOUT_TICK_SECONDS    how often due rollout steps are looked for
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from svckit.settings import ServiceSettings, load_settings

Scalar = str | int | float | bool


class FlagsSettings(ServiceSettings):
    grpc_port: int = Field(default=50054, ge=0, le=65535)
    metrics_port: int = Field(default=9054, ge=0, le=65535)

    database_url: str = ""
    sqlite_path: Path = Path(".run/flags.sqlite3")
    health_probe_interval_seconds: float = Field(default=1.0, gt=0)

    source_files: tuple[str, ...] = ()
    strict_sources: bool = False
    static_context: dict[str, Scalar] = Field(default_factory=dict)
    sync_metadata_disabled: bool = False

    poll_interval_seconds: float = Field(default=1.0, gt=0)
    keepalive_seconds: float = Field(default=20.0, gt=0)
    rollout_tick_seconds: float = Field(default=1.0, gt=0)

    @field_validator("source_files", mode="before")
    @classmethod
    def _split_sources(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("static_context", mode="before")
    @classmethod
    def _parse_context(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value


def load(environ: Mapping[str, str]) -> FlagsSettings:
    """Settings from `environ`; raises `svckit.settings.SettingsError` listing every problem."""
    return load_settings(FlagsSettings, "FLAGS", environ)
