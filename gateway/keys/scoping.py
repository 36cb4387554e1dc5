"""Authorization: what an authenticated key may do, and on whose data.

The rules:

- `inference` lets a key call the OpenAI-compatible routes; `admin` lets it call the admin
  API. Neither implies the other (an admin-only key cannot spend money on models).
- A key acts on its own tenant only. Asking for another tenant's data is PERMISSION_DENIED,
  whether that tenant exists or not; reads of one object by id are confined to the tenant in
  the query itself (`KeyStore.get_key(..., tenant=)`), so another tenant's object is NOT_FOUND.
- The one exception is the platform team: an `admin` key of the tenant `platform` may act on
  any tenant, and on all of them at once (`tenant_filter` then returns None: no filter). Only
  such keys may manage tenants. A platform key without `admin` is an ordinary tenant's key.
"""

from __future__ import annotations

from gateway.keys.model import ApiKey
from svckit.errors import PermissionDenied

PLATFORM_TENANT = "platform"
INFERENCE = "inference"
ADMIN = "admin"


def require_scope(key: ApiKey, scope: str) -> None:
    if not key.has_scope(scope):
        raise PermissionDenied(f"this API key lacks the {scope!r} scope", reason="MISSING_SCOPE")


def is_platform_admin(key: ApiKey) -> bool:
    return key.tenant == PLATFORM_TENANT and key.has_scope(ADMIN)


def require_platform_admin(key: ApiKey) -> None:
    """For what spans tenants: creating, listing, disabling tenants."""
    if not is_platform_admin(key):
        raise PermissionDenied(
            "only the platform team's admin keys may do this", reason="PLATFORM_ADMIN_REQUIRED"
        )


def tenant_filter(key: ApiKey, requested_tenant: str | None) -> str | None:
    """The tenant a request of `key` may act on, given the tenant it asked for (None: not
    said). A tenant's key gets its own tenant; a platform admin key gets what it asked for,
    None meaning every tenant."""
    if is_platform_admin(key):
        return requested_tenant or None
    if requested_tenant and requested_tenant != key.tenant:
        raise PermissionDenied("this API key belongs to another tenant", reason="OTHER_TENANT")
    return key.tenant


__all__ = [
    "ADMIN",
    "INFERENCE",
    "PLATFORM_TENANT",
    "is_platform_admin",
    "require_platform_admin",
    "require_scope",
    "tenant_filter",
]
