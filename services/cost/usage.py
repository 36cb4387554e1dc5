"""A usage event as the cost service sees it: one completed LLM call, identified by its
request id (the idempotency key), with its token counts by kind.

The budget scopes a call is charged to (`scopes`, and `BudgetCall.scopes` of CheckBudget, which
must name the same ones): its subject as the caller named it, `tenants/<tenant>`,
`keys/<api_key_id>` and its user (`user_scope`). Decisions on the user's scope:

- A user name is unique only inside its tenant, so with a tenant the user is charged as
  `users/<tenant>:<user>`: two tenants' "bob" are two scopes, and a budget one tenant sets for
  its bob neither counts nor blocks the other's. It is the gateway's form too (the rate-limit
  subject of the user, and the only user form a tenant's admin key may name).
- Without a tenant (an internal caller of the router may send none) the user is charged as
  `users/<user>`: the platform's own namespace, which no tenant can name through the gateway,
  so it cannot reach a tenant's budgets. Dropping the scope instead would make internal users
  unbudgetable. A tenant-less user name holding ':' would read as the qualified form of
  another tenant's user, so it is left out (the subject, the key and the tenant still charge),
  as is every user scope when the tenant itself holds ':' (the gateway's tenant ids never do).
- The subject is charged as named, unchanged: the caller chose that scope (the gateway sends
  `keys/<id>`); a caller naming a user as its subject names it in the qualified form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

TENANT_SEPARATOR = ":"
"""Between the tenant and the user name in a user's scope, `users/<tenant>:<user>`."""


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
        """The budget scopes this call is charged to: its subject, tenant, user and key."""
        named = (
            self.subject,
            f"tenants/{self.tenant}" if self.tenant else "",
            user_scope(self.tenant, self.user),
            f"keys/{self.api_key_id}" if self.api_key_id else "",
        )
        return frozenset(scope for scope in named if scope)


def user_scope(tenant: str, user: str) -> str:
    """The budget scope of `user`: `users/<tenant>:<user>`, or `users/<user>` without a tenant;
    "" when there is no user or the name would be ambiguous (see the module's docstring)."""
    if not user or TENANT_SEPARATOR in tenant:
        return ""
    if tenant:
        return f"users/{tenant}{TENANT_SEPARATOR}{user}"
    return "" if TENANT_SEPARATOR in user else f"users/{user}"
