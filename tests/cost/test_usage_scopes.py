"""The budget scopes a call is charged to, and the ones CheckBudget asks about: the same user
scope in both, `users/<tenant>:<user>`, or `users/<user>` for a call without a tenant."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.cost.budgets.checker import BudgetCall
from services.cost.usage import UsageRecord, user_scope

AT = datetime(2025, 3, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tenant", "user", "scope"),
    [
        ("acme", "bob", "users/acme:bob"),
        ("globex", "bob", "users/globex:bob"),
        ("acme", "bob:ops", "users/acme:bob:ops"),
        ("acme", "Bob Smith", "users/acme:Bob Smith"),
        ("", "bob", "users/bob"),
        ("", "globex:bob", ""),  # would read as globex's bob
        ("odd:tenant", "bob", ""),  # would read as tenant "odd"'s user "tenant:bob"
        ("acme", "", ""),
        ("", "", ""),
    ],
)
def test_a_user_is_charged_with_its_tenant_and_never_ambiguously(
    tenant: str, user: str, scope: str
) -> None:
    assert user_scope(tenant, user) == scope


def test_a_call_is_charged_to_its_subject_tenant_user_and_key() -> None:
    record = UsageRecord("r1", AT, tenant="acme", subject="keys/k1", user="bob", api_key_id="k1")
    bare = UsageRecord("r2", AT)

    assert record.scopes() == {"keys/k1", "tenants/acme", "users/acme:bob"}
    assert bare.scopes() == frozenset()


@pytest.mark.parametrize(
    ("tenant", "user", "key"), [("acme", "bob", "k1"), ("", "bob", ""), ("", "x:bob", "k2")]
)
def test_budget_checks_ask_about_the_scopes_the_usage_will_be_charged_to(
    tenant: str, user: str, key: str
) -> None:
    call = BudgetCall("r1", tenant=tenant, user=user, key=key)
    record = UsageRecord("r1", AT, tenant=tenant, user=user, api_key_id=key)
    assert call.scopes() == record.scopes()
