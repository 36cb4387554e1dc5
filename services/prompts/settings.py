"""The prompt registry's settings: every `PROMPTS_*` variable, read once at start-up.

An empty `PROMPTS_DATABASE_URL` keeps the registry in a SQLite file (`PROMPTS_SQLITE_PATH`),
the embedded default. Limits on what a version may hold are settings because operators differ
on how large a prompt may get; the defaults fit every prompt we have seen with room to spare.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from svckit.settings import ServiceSettings, load_settings


class PromptsSettings(ServiceSettings):
    grpc_port: int = Field(default=50055, ge=0, le=65535)
    metrics_port: int = Field(default=9055, ge=0, le=65535)

    database_url: str = ""
    sqlite_path: Path = Path(".run/prompts.sqlite3")
    health_probe_interval_seconds: float = Field(default=1.0, gt=0)

    # What one version may hold, in UTF-8 bytes: the template (a chat template's contents
    # together) and the config as JSON.
    max_template_bytes: int = Field(default=65_536, ge=1, le=10_000_000)
    max_config_bytes: int = Field(default=16_384, ge=2, le=1_000_000)
    # The longest rendered output (text, or the messages' contents together) a render returns.
    max_render_bytes: int = Field(default=1_048_576, ge=1, le=100_000_000)

    # The change log: how often each replica reads what other replicas wrote, how long entries
    # are kept (a watcher resuming after longer is told to drop its cache), and how many
    # undelivered changes a watcher may have before it is cut off.
    change_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    change_retention_seconds: float = Field(default=7 * 86_400.0, gt=0)
    watch_queue_size: int = Field(default=1_000, ge=1, le=1_000_000)


def load(environ: Mapping[str, str]) -> PromptsSettings:
    """Settings from `environ`; raises `svckit.settings.SettingsError` listing every problem."""
    return load_settings(PromptsSettings, "PROMPTS", environ)
