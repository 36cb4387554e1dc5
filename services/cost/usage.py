"""A usage event as the cost service sees it: one completed LLM call, identified by its
request id (the idempotency key), with its token counts by kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class UsageRecord:
    request_id: str
    occurred_at: datetime
    """Timezone-aware (UTC)."""
    tenant: str = ""
    subject: str = ""
    endpoint: str = ""
    model: str = ""
    """The public model name."""
    deployment: str = ""
    provider: str = ""
    upstream_model: str = ""
    input_tokens: int = 0
    """Prompt tokens, cache reads included, cache writes not (those are `cache_write_tokens`,
    priced on their own; a producer that cannot tell them apart counts them here, at the
    plain input price)."""
    output_tokens: int = 0
    cached_tokens: int = 0
    """Part of input_tokens read from the provider's prompt cache."""
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    """Part of output_tokens spent on reasoning."""
    latency_ms: int = 0
    outcome: str = "success"
    cache_hit: bool = False
    prompt_name: str = ""
    prompt_version: int = 0
    flag_variants: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    api_key_id: str = ""

    def scopes(self) -> frozenset[str]:
        """The budget scopes this call is charged to: its tenant, user and key."""
        found = {self.subject} if self.subject else set()
        if self.tenant:
            found.add(f"tenants/{self.tenant}")
        if self.user:
            found.add(f"users/{self.user}")
        if self.api_key_id:
            found.add(f"keys/{self.api_key_id}")
        return frozenset(found)
