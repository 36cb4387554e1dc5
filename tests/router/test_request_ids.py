"""The router's request ids are ones the cost ledger accepts, or its whole usage batch is lost."""

from __future__ import annotations

import pytest

from services.cost.usage_validation import REQUEST_ID as LEDGER_REQUEST_ID
from services.router.validation import REQUEST_ID, ledger_request_id


def test_the_router_checks_request_ids_with_the_ledgers_pattern() -> None:
    assert REQUEST_ID.pattern == LEDGER_REQUEST_ID.pattern


def test_a_request_id_the_ledger_accepts_is_kept() -> None:
    assert ledger_request_id("tenant-7:order_42.retry") == "tenant-7:order_42.retry"


@pytest.mark.parametrize("candidate", ["", "order 42/retry", "x" * 129, "é"])
def test_a_request_id_the_ledger_refuses_is_replaced_by_a_fresh_one(candidate: str) -> None:
    first, second = ledger_request_id(candidate), ledger_request_id(candidate)
    assert LEDGER_REQUEST_ID.match(first)
    assert first != second
