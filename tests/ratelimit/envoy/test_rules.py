"""Units: config names, wire numbers and window lengths."""

from __future__ import annotations

import pytest

from services.ratelimit import windows
from services.ratelimit.envoy.rules import RateLimit, Rule, Unit


@pytest.mark.parametrize(
    ("text", "unit", "seconds"),
    [
        ("second", Unit.SECOND, windows.SECOND),
        ("Minute", Unit.MINUTE, windows.MINUTE),
        ("HOUR", Unit.HOUR, windows.HOUR),
        ("day", Unit.DAY, windows.DAY),
        ("week", Unit.WEEK, windows.WEEK),
        ("month", Unit.MONTH, 30 * windows.DAY),
        ("year", Unit.YEAR, 365 * windows.DAY),
    ],
)
def test_units(text: str, unit: Unit, seconds: int) -> None:
    assert Unit.parse(text) is unit
    assert unit.seconds == seconds


def test_unknown_units() -> None:
    assert Unit.parse("unknown") is None
    assert Unit.parse("fortnight") is None
    with pytest.raises(ValueError, match="no window"):
        _ = Unit.UNKNOWN.seconds


def test_wire_numbers_put_week_after_year() -> None:
    assert [u.value for u in (Unit.SECOND, Unit.YEAR, Unit.WEEK)] == [1, 6, 7]


def test_rule_name_and_unlimited() -> None:
    assert Rule(RateLimit(1, Unit.SECOND, "n")).name == "n"
    unlimited = Rule(None)
    assert unlimited.unlimited
    assert unlimited.name == ""
