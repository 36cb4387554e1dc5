from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.cost.budgets.model import new_budget
from services.cost.budgets.periods import Period
from services.cost.money import Money
from svckit.errors import InvalidArgument

from .conftest import budget


def valid(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "scope": "tenants/acme",
        "limit": Money("USD", 5_000_000_000),
        "period": "monthly",
        "hard": True,
        "thresholds": [100, 50, 80],
    }
    fields.update(changes)
    return fields


def violations(**changes: Any) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        new_budget(**valid(**changes))
    return {item.field: item.description for item in caught.value.violations}


def test_a_new_budget_gets_an_id_utc_by_default_and_ascending_thresholds() -> None:
    made = new_budget(**valid(created_at=datetime(2025, 1, 1, tzinfo=UTC)))
    assert len(made.id) == 32
    assert made.time_zone == "UTC"
    assert made.period is Period.MONTHLY
    assert made.thresholds == (50, 80, 100)
    assert made.created_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert new_budget(**valid()).id != made.id


@pytest.mark.parametrize(
    "scope", ["tenants/acme", "users/acme:u-1", "users/acme:u:1", "users/u-1", "keys/k1"]
)
def test_tenant_user_and_key_scopes_are_accepted(scope: str) -> None:
    assert new_budget(**valid(scope=scope)).scope == scope


@pytest.mark.parametrize(
    "scope",
    [
        "",
        "acme",
        "teams/x",
        "tenants/",
        "/acme",
        "tenants/" + "x" * 200,
        "users/acme:",
        "users/:u1",
        "users/:",
    ],
)
def test_other_scopes_are_refused(scope: str) -> None:
    found = violations(scope=scope)
    assert "users/{tenant}:{user}" in found["budget.scope"]


def test_every_bad_field_is_reported_at_once_by_its_proto_name() -> None:
    found = violations(
        scope="nobody",
        limit=Money("usd", 0),
        period="yearly",
        time_zone="Mars/Olympus",
        thresholds=[0, 1001],
        model="m" * 201,
    )
    assert set(found) == {
        "budget.scope",
        "budget.limit.currency_code",
        "budget.limit.nanos",
        "budget.period",
        "budget.time_zone",
        "budget.thresholds",
        "budget.model",
    }


def test_a_negative_limit_is_refused() -> None:
    assert "budget.limit.nanos" in violations(limit=Money("USD", -1))


def test_repeated_thresholds_are_refused() -> None:
    assert violations(thresholds=[80, 80]) == {"budget.thresholds": "must be unique"}


def test_too_many_thresholds_are_refused() -> None:
    assert "budget.thresholds" in violations(thresholds=list(range(1, 30)))


@pytest.mark.parametrize("zone", ["America", "../etc/passwd", "utc", "x" * 65])
def test_what_is_not_an_iana_zone_is_refused(zone: str) -> None:
    assert "budget.time_zone" in violations(time_zone=zone)


def test_a_time_zone_name_is_kept() -> None:
    assert new_budget(**valid(time_zone="Europe/Paris")).time_zone == "Europe/Paris"


def test_a_budget_applies_to_its_scope_and_to_its_model_only_when_it_names_one() -> None:
    anything = budget(scope="users/u1")
    assert anything.applies_to({"tenants/acme", "users/u1"}, "gpt-4o")
    assert not anything.applies_to({"tenants/acme"}, "gpt-4o")
    only_mini = budget(scope="users/u1", model="gpt-4o-mini")
    assert only_mini.applies_to({"users/u1"}, "gpt-4o-mini")
    assert not only_mini.applies_to({"users/u1"}, "gpt-4o")


def test_a_threshold_is_crossed_when_spend_goes_from_below_it_to_at_or_above_it() -> None:
    b = budget(limit=1000, thresholds=(50, 80, 100, 150))
    assert b.crossed(0, 499) == []
    assert b.crossed(0, 500) == [50]
    assert b.crossed(499, 1000) == [50, 80, 100]
    assert b.crossed(500, 799) == []
    assert b.crossed(1000, 5000) == [150]
