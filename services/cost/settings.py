"""The cost service's settings: every `COST_*` variable, read once at start-up.

An empty `COST_DATABASE_URL` keeps the ledger in a SQLite file (`COST_SQLITE_PATH`), the
embedded default. An empty `COST_REDIS_URL` keeps budget reservations in this process and
reads no usage stream (usage then arrives through RecordUsage only); with Redis, every replica
consumes the router's usage stream in one consumer group and shares reservations.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from svckit.settings import ServiceSettings, load_settings


class CostSettings(ServiceSettings):
    grpc_port: int = Field(default=50052, ge=0, le=65535)
    metrics_port: int = Field(default=9052, ge=0, le=65535)

    database_url: str = ""
    sqlite_path: Path = Path(".run/cost.sqlite3")

    redis_url: str = ""
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    key_prefix: str = Field(default="sb:cost:", max_length=64)
    health_probe_interval_seconds: float = Field(default=1.0, gt=0)

    # The router's usage stream (its ROUTER_KEY_PREFIX + "usage").
    usage_stream: str = "sb:router:usage"
    consumer_group: str = "cost-ledger"
    stream_batch_size: int = Field(default=500, ge=1, le=10_000)
    stream_claim_idle_seconds: float = Field(default=30.0, gt=0)

    # Ledger writes: batched, off every caller's critical path.
    ledger_max_batch: int = Field(default=1000, ge=1, le=20_000)
    ledger_max_delay_seconds: float = Field(default=0.01, ge=0)

    # Prices: operators' YAML, loaded at start-up into the versioned price table.
    prices_file: str = ""
    price_refresh_seconds: float = Field(default=10.0, gt=0)

    # Budgets.
    reservation_ttl_seconds: float = Field(default=600.0, gt=0)
    alert_webhook_url: str = ""
    # Name of the secret signing alert webhooks; webhooks are only sent signed.
    alert_webhook_secret_name: str = "COST_ALERT_WEBHOOK_SECRET"


def load(environ: Mapping[str, str]) -> CostSettings:
    """Settings from `environ`; raises `svckit.settings.SettingsError` listing every problem."""
    return load_settings(CostSettings, "COST", environ)
