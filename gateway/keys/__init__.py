"""API keys and tenants: keys shown once and stored as peppered hashes (`hashing`), bound to a
tenant, a user, a tier and scopes (`model`), kept in SQL (`store`), looked up through an
in-process cache (`cache`), authorized by scope and tenant (`scoping`), and managed by the
platform team's `switchboard` tool (`cli`) and the admin API."""

from gateway.keys.cache import CachedKeyLookup
from gateway.keys.hashing import KeyHasher, pepper_from
from gateway.keys.model import ApiKey, KeyState, NewKey, Tenant
from gateway.keys.scoping import (
    PLATFORM_TENANT,
    require_platform_admin,
    require_scope,
    tenant_filter,
)
from gateway.keys.store import CreatedKey, KeyStore

__all__ = [
    "PLATFORM_TENANT",
    "ApiKey",
    "CachedKeyLookup",
    "CreatedKey",
    "KeyHasher",
    "KeyState",
    "KeyStore",
    "NewKey",
    "Tenant",
    "pepper_from",
    "require_platform_admin",
    "require_scope",
    "tenant_filter",
]
