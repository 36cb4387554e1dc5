"""Which admin RPC a tenant's admin key may call, and on what: one rule per RPC.

A platform admin key (tenant `platform`, scope `admin`) may call every transcoded RPC on any
data. Any other admin key is confined to its own tenant, by the rule of the RPC, checked on the
request message the gateway is about to send (after path, query and body are mapped):

- `SHARED`: reads of what every tenant shares (model catalogue, deployments, tiers, prices).
- `TenantField(path)`: the field names a tenant. Empty, it is filled with the caller's tenant
  (so `GET /admin/v1/cost/spend` is the caller's own spend); another tenant is refused.
- `SubjectField(path)`: the field names a subject or a budget scope: `tenants/<id>`,
  `keys/<id>` or `users/<tenant>:<user>`. It must be the caller's tenant, a key of that tenant,
  or a user of that tenant. Empty, it becomes `tenants/<own>` when `default_own` (ListBudgets),
  else it is refused.
- `BudgetField(path)`: the field names a budget by id; the budget's scope must be the caller's
  (as `SubjectField`). A budget of another tenant is NOT_FOUND, like one that does not exist.
  With `owned`, the caller's tenant must also own it (have created it, `Budget.owner`): a cap
  the platform set on a tenant, its users or its keys is read by the tenant but deleted only
  by the platform (PERMISSION_DENIED, reason SET_BY_PLATFORM).
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

Users. A user name is unique only inside its tenant, so a tenant names its users
`users/<own-tenant>:<user>` (the form of `gateway.pipeline.subjects`, which the rate limiter
and the cost service count and charge by). Decisions:
- The tenant part is the whole proof: `users/acme:<anything>` is acme's namespace, which no
  other tenant's traffic reaches, so no key needs to speak for the user yet (a budget can be
  set before the user's first key) and no key lookup is made.
- `users/<other-tenant>:<user>` is PERMISSION_DENIED (OTHER_TENANT); a budget with such a scope
  is NOT_FOUND, like any other tenant's budget.
- A bare `users/<user>` is refused to tenants (PERMISSION_DENIED, reason USER_WITHOUT_TENANT,
  the message showing the form to use), not rewritten: the proxy builds the message from the
  HTTP request again, and a subject sits in the path or the body, which the forced query
  parameters cannot replace; a rewrite would also answer with a scope the caller never sent.
  The bare form is the namespace of calls made without a tenant (internal callers of the
  router), which only the platform's admin keys may name. The platform may name any form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message

from gateway.keys.model import ApiKey
from gateway.pipeline.subjects import USERS, user_subject, user_tenant
from svckit.errors import NotFound, PermissionDenied

Forced = dict[str, str]
"""Query parameters to set on the request (field path -> value)."""


class TenantData(Protocol):
    """What the rules ask about a tenant's keys and budgets."""

    async def owns_key(self, tenant: str, key_id: str) -> bool: ...

    async def budget(self, budget_id: str) -> BudgetRef | None: ...


@dataclass(frozen=True)
class BudgetRef:
    scope: str
    owner: str
    """The tenant that created it through the gateway; "platform" or "" for the platform."""


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
            raise _not_own(asked, key.tenant)
        return {}


@dataclass(frozen=True)
class BudgetField:
    path: str
    owned: bool = False

    async def check(self, message: Message, key: ApiKey, data: TenantData) -> Forced:
        budget_id = read_field(message, self.path)
        if not budget_id:
            return await PLATFORM_ONLY.check(message, key, data)
        found = await data.budget(budget_id)
        if found is None or not await subject_is_own(found.scope, key.tenant, data):
            raise NotFound(f"budget {budget_id!r} not found", reason="BUDGET_NOT_FOUND")
        if self.owned and found.owner != key.tenant:
            raise PermissionDenied(
                "the platform team set this budget; only they may change it",
                reason="SET_BY_PLATFORM",
            )
        return {}


async def subject_is_own(subject: str, tenant: str, data: TenantData) -> bool:
    kind, _, name = subject.partition("/")
    if not name:
        return False
    if kind == "tenants":
        return name == tenant
    if kind == "keys":
        return await data.owns_key(tenant, name)
    return kind == "users" and user_tenant(subject) == tenant


def read_field(message: Message, path: str) -> str:
    value: object = message
    for part in path.split("."):
        value = getattr(value, part)
    return str(value)


def _other_tenant() -> PermissionDenied:
    return PermissionDenied("this API key belongs to another tenant", reason="OTHER_TENANT")


def _not_own(subject: str, tenant: str) -> PermissionDenied:
    if subject.startswith(USERS) and user_tenant(subject) is None:
        return PermissionDenied(
            f'name a user with its tenant: "{user_subject(tenant, "<user>")}"',
            reason="USER_WITHOUT_TENANT",
        )
    return _other_tenant()


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
    _COST + "DeleteBudget": BudgetField("budget_id", owned=True),
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
    "BudgetRef",
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
