"""Who may do what: scopes, and the tenant a key's requests are confined to."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.keys.model import ApiKey
from gateway.keys.scoping import (
    is_platform_admin,
    require_platform_admin,
    require_scope,
    tenant_filter,
)
from svckit.errors import PermissionDenied


def key(tenant: str, *scopes: str) -> ApiKey:
    return ApiKey(
        id="0123456789ab",
        tenant=tenant,
        user="u1",
        tier="pro",
        scopes=frozenset(scopes),
        name="",
        created_at=datetime(2025, 1, 6, tzinfo=UTC),
    )


def test_a_key_has_the_scopes_it_was_given() -> None:
    require_scope(key("acme", "inference"), "inference")
    require_scope(key("acme", "admin"), "admin")


@pytest.mark.parametrize(("has", "needs"), [("inference", "admin"), ("admin", "inference")])
def test_neither_scope_implies_the_other(has: str, needs: str) -> None:
    with pytest.raises(PermissionDenied) as raised:
        require_scope(key("acme", has), needs)
    assert raised.value.reason == "MISSING_SCOPE"


def test_a_tenant_key_is_confined_to_its_tenant() -> None:
    acme = key("acme", "admin", "inference")

    assert tenant_filter(acme, None) == "acme"
    assert tenant_filter(acme, "acme") == "acme"


def test_a_tenant_key_may_not_ask_for_another_tenant() -> None:
    with pytest.raises(PermissionDenied) as raised:
        tenant_filter(key("acme", "admin"), "globex")
    assert raised.value.reason == "OTHER_TENANT"


def test_a_platform_admin_acts_on_any_tenant_or_all() -> None:
    admin = key("platform", "admin")

    assert is_platform_admin(admin)
    assert tenant_filter(admin, "globex") == "globex"
    assert tenant_filter(admin, None) is None
    require_platform_admin(admin)


@pytest.mark.parametrize("caller", [key("platform", "inference"), key("acme", "admin")])
def test_only_platform_admin_keys_span_tenants(caller: ApiKey) -> None:
    assert not is_platform_admin(caller)
    with pytest.raises(PermissionDenied):
        require_platform_admin(caller)
    with pytest.raises(PermissionDenied):
        tenant_filter(caller, "globex")
