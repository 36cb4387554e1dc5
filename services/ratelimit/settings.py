"""The rate-limit service's settings: every `RATELIMIT_*` variable, read once at start-up.

An empty `RATELIMIT_REDIS_URL` selects the in-memory store (the embedded default: exact within
one process, nothing shared between replicas). `RATELIMIT_FAILURE_MODE` decides what a quota
check does while Redis cannot be reached: `open` admits the call unchecked, `closed` refuses
it; both count the failure in `ratelimit_backend_failures_total`. The Envoy API always answers
UNAVAILABLE while Redis is down, as envoyproxy/ratelimit does, so Envoy's own
`failure_mode_deny` decides for Envoy traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from svckit.settings import ServiceSettings, load_settings

DEFAULT_TIERS_FILE = Path(__file__).with_name("tiers.yaml")


class RateLimitSettings(ServiceSettings):
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    metrics_port: int = Field(default=9051, ge=0, le=65535)

    # Storage. Empty URL: in memory.
    redis_url: str = ""
    # Optional second Redis for the Envoy API's per-second limits (like REDIS_PERSECOND_URL).
    redis_persecond_url: str = ""
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    redis_pool_size: int = Field(default=64, ge=1)
    # How long a call waits for a free pooled connection under a burst before failing.
    redis_pool_timeout_seconds: float = Field(default=2.0, gt=0)
    key_prefix: str = Field(default="sb:rl:", max_length=64)
    failure_mode: Literal["open", "closed"] = "open"
    health_probe_interval_seconds: float = Field(default=1.0, gt=0)

    # Tier quotas.
    tiers_file: Path = DEFAULT_TIERS_FILE
    reservation_ttl_seconds: int = Field(default=600, ge=1)
    # The longest a replica may use a cached override after a change it missed (see
    # override_cache.py: changes normally apply on every replica within two checks).
    override_cache_seconds: float = Field(default=10.0, ge=0)

    # Envoy's rate-limit protocol; empty directory: ShouldRateLimit answers that no
    # configuration is loaded.
    envoy_config_dir: str = ""
    envoy_merge_domain_config: bool = False
    envoy_shadow_mode: bool = False
    envoy_response_headers_enabled: bool = False
    envoy_header_limit: str = "RateLimit-Limit"
    envoy_header_remaining: str = "RateLimit-Remaining"
    envoy_header_reset: str = "RateLimit-Reset"
    envoy_near_limit_ratio: float = Field(default=0.8, ge=0, le=1)
    envoy_expiration_jitter_max_seconds: int = Field(default=300, ge=0)
    envoy_cache_key_prefix: str = ""
    envoy_local_cache_max_entries: int = Field(default=0, ge=0)
    envoy_quota_mode: bool = False


def load(environ: Mapping[str, str]) -> RateLimitSettings:
    """Settings from `environ`; raises `svckit.settings.SettingsError` listing every problem."""
    return load_settings(RateLimitSettings, "RATELIMIT", environ)
