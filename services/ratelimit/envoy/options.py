"""The knobs of the Envoy rate-limit API, one frozen value built once at start-up.

Each field mirrors an envoyproxy/ratelimit environment variable and keeps its default, so an
operator moving from the reference server can carry the same values over. The service's
settings object (read from `RATELIMIT_ENVOY_*`) builds this; nothing here reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvoyOptions:
    """Options of the Envoy `ShouldRateLimit` API (reference variable in brackets).

    shadow_mode: never answer OVER_LIMIT overall, only count what would have been limited
        [SHADOW_MODE].
    response_headers_enabled: add `RateLimit-*` headers for the descriptor closest to its limit
        [LIMIT_RESPONSE_HEADERS_ENABLED], named by the three `header_*` fields
        [LIMIT_LIMIT_HEADER, LIMIT_REMAINING_HEADER, LIMIT_RESET_HEADER].
    near_limit_ratio: share of a limit from which hits count as `near_limit` [NEAR_LIMIT_RATIO].
    expiration_jitter_max_seconds: counters live one window plus a random 0..max-1 seconds, so
        keys of one window do not all expire in the same instant [EXPIRATION_JITTER_MAX_SECONDS].
    cache_key_prefix: prepended verbatim to every counter key [CACHE_KEY_PREFIX].
    local_cache_max_entries: how many over-limit keys this process remembers so it answers
        OVER_LIMIT without a store round trip; 0 turns the cache off. The reference sizes this in
        bytes (LOCAL_CACHE_SIZE_IN_BYTES); entries are what a Python process can bound honestly.
    merge_domain_config: files naming the same domain are merged instead of rejected
        [MERGE_DOMAIN_CONFIG].
    quota_mode: treat every descriptor as quota-mode [QUOTA_MODE].
    """

    shadow_mode: bool = False
    response_headers_enabled: bool = False
    header_limit: str = "RateLimit-Limit"
    header_remaining: str = "RateLimit-Remaining"
    header_reset: str = "RateLimit-Reset"
    near_limit_ratio: float = 0.8
    expiration_jitter_max_seconds: int = 300
    cache_key_prefix: str = ""
    local_cache_max_entries: int = 0
    merge_domain_config: bool = False
    quota_mode: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.near_limit_ratio <= 1.0:
            problems.append(f"near_limit_ratio must be within 0..1, got {self.near_limit_ratio}")
        if self.expiration_jitter_max_seconds < 0:
            problems.append("expiration_jitter_max_seconds must not be negative")
        if self.local_cache_max_entries < 0:
            problems.append("local_cache_max_entries must not be negative")
        names = (self.header_limit, self.header_remaining, self.header_reset)
        if self.response_headers_enabled and not all(names):
            problems.append("response header names must not be empty")
        if problems:
            raise ValueError("; ".join(problems))
