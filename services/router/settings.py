"""The router's settings: every `ROUTER_*` variable, read once at start-up.

An empty `ROUTER_REDIS_URL` keeps breakers, the response cache, usage events and the job queue
in process (the embedded default: nothing shared between replicas). An empty
`ROUTER_DATABASE_URL` keeps jobs in a SQLite file (`ROUTER_SQLITE_PATH`).

Fault injection (`ROUTER_FAULTS_ENABLED`) is off by default: the admin RPCs that inject faults
answer FAILED_PRECONDITION unless an operator turned it on for a chaos environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from services.router.catalogue import DEFAULT_MODELS_FILE
from svckit.settings import ServiceSettings, load_settings


class RouterSettings(ServiceSettings):
    grpc_port: int = Field(default=50053, ge=0, le=65535)
    metrics_port: int = Field(default=9053, ge=0, le=65535)

    models_file: Path = DEFAULT_MODELS_FILE

    # Shared state. Empty URL: in process.
    redis_url: str = ""
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    key_prefix: str = Field(default="sb:router:", max_length=64)
    health_probe_interval_seconds: float = Field(default=1.0, gt=0)

    # Jobs. Empty URL: SQLite at sqlite_path.
    database_url: str = ""
    sqlite_path: Path = Path(".run/router.sqlite3")
    job_workers: int = Field(default=4, ge=0, le=256)
    # A delivery unacknowledged this long is taken to be a crashed worker's and claimed by
    # another. Live workers keep their own fresh, so this only bounds how long a crashed
    # worker's jobs wait; keep it well above a worst-case completion (several attempts of up to
    # 60 s each, plus fallbacks), since a worker blocked past it cannot refresh.
    job_claim_idle_seconds: float = Field(default=900.0, gt=0)
    # How often a worker enqueues again the jobs queued or running in SQL and untouched for
    # job_claim_idle_seconds (their delivery lost to a restart, a crash or a lost Redis stream).
    # Also run at start. A job still waiting in a backlog that long gets an extra delivery per
    # round, which is only acknowledged once the job is done.
    job_recover_interval_seconds: float = Field(default=300.0, gt=0)
    # Name of the secret holding the key that signs job webhooks. While that secret is not set,
    # SubmitJob with a webhook_url answers FAILED_PRECONDITION: we never send unsigned webhooks.
    webhook_secret_name: str = "ROUTER_WEBHOOK_SECRET"

    # Retries and breakers.
    retry_base_delay_seconds: float = Field(default=0.1, ge=0)
    retry_max_delay_seconds: float = Field(default=5.0, ge=0)
    max_retry_after_seconds: float = Field(default=30.0, ge=0)
    breaker_window_seconds: float = Field(default=30.0, gt=0)
    breaker_min_calls: int = Field(default=10, ge=1)
    breaker_failure_rate: float = Field(default=0.5, gt=0, le=1)
    breaker_consecutive_failures: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=15.0, gt=0)

    # Response cache.
    cache_default_ttl_seconds: float = Field(default=3600.0, gt=0)
    cache_max_ttl_seconds: float = Field(default=86400.0, gt=0)
    cache_max_entries: int = Field(default=10_000, ge=1)
    cache_shared_across_tenants: bool = False

    # Usage events for the cost service, on the stream `{key_prefix}usage`. Without Redis they
    # go to the cost service at this address (RecordUsage), or stay in process when it is empty.
    cost_addr: str = ""
    usage_stream_max_length: int = Field(default=1_000_000, ge=1000)
    usage_buffer_size: int = Field(default=100_000, ge=100)

    # HTTP client of the providers.
    http_max_connections: int = Field(default=200, ge=1)

    faults_enabled: bool = False


def load(environ: Mapping[str, str]) -> RouterSettings:
    """Settings from `environ`; raises `svckit.settings.SettingsError` listing every problem."""
    return load_settings(RouterSettings, "ROUTER", environ)
