"""The gateway's settings: every `GATEWAY_*` variable, read once at start-up.

The services it fronts are named by address (`GATEWAY_RATELIMIT_ADDR`, `GATEWAY_ROUTER_ADDR`,
`GATEWAY_COST_ADDR`, `GATEWAY_PROMPTS_ADDR`, `GATEWAY_FLAGS_ADDR`, gRPC `host:port`); readiness
follows their gRPC health.

Experiments (`gateway.pipeline.experiments`): `GATEWAY_EXPERIMENT_FLAGS` names the flags
evaluated on every chat completion (comma-separated; empty: none), in the flag set
`GATEWAY_FLAG_SELECTOR` when set; exposures are sent every `GATEWAY_EXPOSURE_FLUSH_SECONDS`.

Keys and tenants live in `GATEWAY_DATABASE_URL` (empty: SQLite at `GATEWAY_SQLITE_PATH`),
migrated at start-up.

The pipeline's knobs: `GATEWAY_OUTPUT_TOKENS_ESTIMATE` is the completion length a request
without `max_tokens` is assumed to reach when its tokens are reserved against the rate limit
(the real count replaces the estimate when the call ends); `GATEWAY_ROUTER_TIMEOUT_SECONDS`
bounds one router call, streams included; `GATEWAY_KEY_CACHE_SECONDS` is how long a looked-up
key is trusted before the database is asked again (a revocation elsewhere takes that long).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from svckit.settings import load_settings


class GatewaySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = "INFO"
    shutdown_grace_seconds: float = Field(default=10.0, ge=0, le=3600, allow_inf_nan=False)

    ratelimit_addr: str = "127.0.0.1:50051"
    router_addr: str = "127.0.0.1:50053"
    cost_addr: str = "127.0.0.1:50052"
    prompts_addr: str = "127.0.0.1:50055"
    flags_addr: str = "127.0.0.1:50054"
    ready_timeout_seconds: float = Field(default=1.0, gt=0)

    database_url: str = ""
    sqlite_path: Path = Path(".run/gateway.sqlite3")
    # Name of the secret holding the pepper API keys are hashed with (gateway.keys.hashing).
    key_pepper_secret_name: str = "GATEWAY_KEY_PEPPER"

    output_tokens_estimate: int = Field(default=1024, ge=1)
    router_timeout_seconds: float = Field(default=600.0, gt=0)
    admin_timeout_seconds: float = Field(default=30.0, gt=0)
    # Bounds the rendering of a stored prompt that a chat completion names.
    prompt_timeout_seconds: float = Field(default=5.0, gt=0)

    experiment_flags: str = ""
    flag_selector: str = ""
    # An experiment's flag evaluation is bounded tightly: past it the request goes on without.
    flag_timeout_seconds: float = Field(default=0.5, gt=0)
    exposure_flush_seconds: float = Field(default=1.0, gt=0)
    # Bounds one OFREP evaluation (every flag of the set is evaluated for it).
    ofrep_timeout_seconds: float = Field(default=2.0, gt=0)
    key_cache_seconds: float = Field(default=30.0, ge=0)
    # How long the catalogue (model -> provider and upstream model, which prices a budget
    # check) is kept before the router is asked again.
    catalogue_cache_seconds: float = Field(default=30.0, ge=0)

    # Comma-separated origins allowed by CORS; empty: no cross-origin access.
    cors_origins: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    @property
    def key_database_url(self) -> str:
        """The keys' database: `database_url`, or the embedded SQLite file."""
        return self.database_url or f"sqlite+aiosqlite:///{self.sqlite_path}"

    @property
    def embedded_database(self) -> bool:
        return self.key_database_url.startswith("sqlite")

    @property
    def experiment_flag_keys(self) -> list[str]:
        return [key.strip() for key in self.experiment_flags.split(",") if key.strip()]

    @property
    def allowed_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]


def load(environ: Mapping[str, str]) -> GatewaySettings:
    """Settings from `environ`; raises `svckit.settings.SettingsError` listing every problem."""
    return load_settings(GatewaySettings, "GATEWAY", environ)
