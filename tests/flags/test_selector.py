"""flagd selector syntax."""

from __future__ import annotations

import pytest

from services.flags.selector import ALL, Selector, SelectorKind, parse_selector, selector_from
from svckit.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ALL),
        ("   ", ALL),
        ("flags/allFlags.json", Selector(SelectorKind.SOURCE, "flags/allFlags.json")),
        ("source=checkout", Selector(SelectorKind.SOURCE, "checkout")),
        ("flagSetId=payments", Selector(SelectorKind.FLAG_SET_ID, "payments")),
        ("flagSetId=", Selector(SelectorKind.FLAG_SET_ID, "")),
        (" flagSetId = x ", Selector(SelectorKind.FLAG_SET_ID, "x")),
    ],
)
def test_selectors_parse(text: str, expected: Selector) -> None:
    assert parse_selector(text) == expected


@pytest.mark.parametrize("text", ["owner=me", "source=", "=x", "x" * 300])
def test_malformed_selectors_are_invalid_arguments(text: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse_selector(text)
    assert refused.value.reason == "INVALID_SELECTOR"
    assert refused.value.violations[0].field == "flagd-selector"


def test_the_header_wins_over_the_request_field() -> None:
    metadata = [("x-request-id", "r1"), ("flagd-selector", "source=a")]

    assert selector_from(metadata, "source=b") == Selector(SelectorKind.SOURCE, "a")
    assert selector_from([("x-request-id", "r1")], "source=b") == Selector(SelectorKind.SOURCE, "b")
    assert selector_from(None) == ALL
