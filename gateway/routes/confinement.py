"""Which admin RPC a tenant's admin key may call, and on what: one rule per RPC.

A platform admin key (tenant `platform`, scope `admin`) may call every transcoded RPC on any
data. Any other admin key is confined to its own tenant, by the rule of the RPC, checked on the
request message the gateway is about to send (after path, query and body are mapped):

- `SHARED`: reads of what every tenant shares (model catalogue, deployments, tiers, prices).
- `TenantField(path)`: the field names a tenant. Empty, it is filled with the caller's tenant
  (so `GET /admin/v1/cost/spend` is the caller's own spend); another tenant is refused.
- `SubjectField(path)`: the field names a subject or a budget scope: `tenants/<id>`,
  `keys/<id>` or `users/<name>`. It must be the caller's tenant, a key of that tenant, or a user
  one of that tenant's keys speaks for. Empty, it becomes `tenants/<own>` when `default_own`
  (ListBudgets), else it is refused.
- `BudgetField(path)`: the field names a budget by id; the budget's scope must be the caller's
  (as `SubjectField`). A budget of another tenant is NOT_FOUND, like one that does not exist.
- `PLATFORM_ONLY`: everything else, and every RPC not in the table (a new RPC is closed to
  tenants until someone decides otherwise). Platform-only by decision:
  ratelimit CheckQuota, CommitReservation, ReleaseReservation (the pipeline's own calls; a
  tenant could spend or free anyone's quota), ResetUsage, SetOverride, DeleteOverride;
  cost RecordUsage, SetPrice, CheckBudget, ReleaseBudgetReservation, RebuildAggregates, and
  ListAlerts without a budget id; router ReloadCatalogue, SetFault, ListFaults, ClearFault,
  and the jobs (SubmitJob, GetJob, CancelJob: a job carries no tenant, and a submitted job
  would skip the pipeline's rate limit and budget checks).

A refusal is PERMISSION_DENIED; the check answers what to force into the request as query
parameters (the proxy then builds the same message with the tenant filled in).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from gateway.keys.model import ApiKey
from svckit.errors import NotFound, PermissionDenied

Forced = dict[str, str]
"""Query parameters to set on the request (field path -> value)."""


class TenantData(Protocol):
    """What the rules ask about a tenant's keys and budgets."""

    async def owns_key(self, tenant: str, key_id: str) -> bool: ...

    async def has_user(self, tenant: str, user: str) -> bool: ...

    async def budget_scope(self, budget_id: str) -> str | None: ...


class Rule(Protocol):
    async def check(self, message: Message, key: ApiKey, data: TenantData) -> Forced: ...


@dataclass(frozen=True)
class Shared:
    async def check(self, message: Message, key: ApiKey, data: TenantData) -> Forced:
        return {}


@dataclass(frozen=True)
class PlatformOnly:
    async def check(self, message: Message, key: ApiKey, data: TenantData) -> Forced:
        raise PermissionDenied(
            "only the platform team's admin keys may call this", reason="PLATFORM_ADMIN_REQUIRED"
        )


@dataclass(frozen=True)
class TenantField:
    path: str

    async def check(self, message: Message, key: ApiKey, data: TenantData) -> Forced:
        asked = read_field(message, self.path)
        if not asked:
            return {self.path: key.tenant}
        if asked != key.tenant:
            raise _other_tenant()
        return {}


@dataclass(frozen=True)
class SubjectField:
    path: str
    default_own: bool = False

    async def check(self, message: Message, key: ApiKey, data: TenantData) -> Forced:
        asked = read_field(message, self.path)
        if not asked and self.default_own:
            return {self.path: f"tenants/{key.tenant}"}
        if not await subject_is_own(asked, key.tenant, data):
            raise _other_tenant()
        return {}


@dataclass(frozen=True)
class BudgetField:
    path: str

    async def check(self, message: Message, key: ApiKey, data: TenantData) -> Forced:
        budget_id = read_field(message, self.path)
        if not budget_id:
            return await PLATFORM_ONLY.check(message, key, data)
        scope = await data.budget_scope(budget_id)
        if scope is None or not await subject_is_own(scope, key.tenant, data):
            raise NotFound(f"budget {budget_id!r} not found", reason="BUDGET_NOT_FOUND")
        return {}


async def subject_is_own(subject: str, tenant: str, data: TenantData) -> bool:
    kind, _, name = subject.partition("/")
    if not name:
        return False
    checks: Mapping[str, Callable[[str, str], Awaitable[bool]]] = {
        "tenants": _same,
        "keys": data.owns_key,
        "users": data.has_user,
    }
    check = checks.get(kind)
    return check is not None and await check(tenant, name)


async def _same(tenant: str, name: str) -> bool:
    return tenant == name


def read_field(message: Message, path: str) -> str:
    value: object = message
    for part in path.split("."):
        value = getattr(value, part)
    return str(value)


def _other_tenant() -> PermissionDenied:
    return PermissionDenied("this API key belongs to another tenant", reason="OTHER_TENANT")


SHARED = Shared()
PLATFORM_ONLY = PlatformOnly()

_RL = "switchboard.ratelimit.v1.RateLimitService."
_COST = "switchboard.cost.v1.CostService."
_ROUTER = "switchboard.router.v1.RouterService."

RULES: Mapping[str, Rule] = {
    _RL + "GetUsage": SubjectField("subject"),
    _RL + "GetOverride": SubjectField("subject"),
    _RL + "ListTiers": SHARED,
    _COST + "GetPrice": SHARED,
    _COST + "ListPrices": SHARED,
    _COST + "CreateBudget": SubjectField("budget.scope"),
    _COST + "GetBudget": BudgetField("budget_id"),
    _COST + "ListBudgets": SubjectField("scope", default_own=True),
    _COST + "DeleteBudget": BudgetField("budget_id"),
    _COST + "ListAlerts": BudgetField("budget_id"),
    _COST + "GetSpend": TenantField("tenant"),
    _COST + "ExportSpend": TenantField("query.tenant"),
    _ROUTER + "ListModels": SHARED,
    _ROUTER + "ListDeployments": SHARED,
}
"""Every RPC a tenant's admin key may call; any other is platform-only."""


def rule_of(method_full_name: str) -> Rule:
    return RULES.get(method_full_name, PLATFORM_ONLY)


__all__ = [
    "PLATFORM_ONLY",
    "RULES",
    "SHARED",
    "BudgetField",
    "Forced",
    "PlatformOnly",
    "Rule",
    "Shared",
    "SubjectField",
    "TenantData",
    "TenantField",
    "rule_of",
    "subject_is_own",
]
