"""What a configured limit is: its unit, its size, and the flags that change how it is applied.

The unit numbers are those of `envoy.service.ratelimit.v3.RateLimitResponse.RateLimit.Unit`
(WEEK is 7 there, after YEAR), so a unit converts to and from the wire by value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from services.ratelimit import windows

UINT32_MAX = 4_294_967_295
"""`limit_remaining` of an unlimited descriptor, and the largest `requests_per_unit`."""


class Unit(IntEnum):
    """A window length, numbered as in the response's `RateLimit.Unit`."""

    UNKNOWN = 0
    SECOND = 1
    MINUTE = 2
    HOUR = 3
    DAY = 4
    MONTH = 5
    YEAR = 6
    WEEK = 7

    @property
    def seconds(self) -> int:
        """The window length; MONTH is 30 days and YEAR 365, as in the reference server."""
        if self is Unit.UNKNOWN:
            raise ValueError("the UNKNOWN unit has no window")
        return _SECONDS[self]

    @classmethod
    def parse(cls, text: str) -> Unit | None:
        """The unit a config file names (case-insensitive), or None if it names none."""
        unit = cls.__members__.get(text.upper())
        return None if unit is None or unit is Unit.UNKNOWN else unit


_SECONDS = {
    Unit.SECOND: windows.SECOND,
    Unit.MINUTE: windows.MINUTE,
    Unit.HOUR: windows.HOUR,
    Unit.DAY: windows.DAY,
    Unit.WEEK: windows.WEEK,
    Unit.MONTH: windows.MONTH,
    Unit.YEAR: windows.YEAR,
}


@dataclass(frozen=True)
class RateLimit:
    """The limit a response echoes in `current_limit`."""

    requests_per_unit: int
    unit: Unit
    name: str = ""


@dataclass(frozen=True)
class Rule:
    """A configured `rate_limit` with the descriptor flags that govern it.

    `limit` is None exactly when the rule is `unlimited`.
    """

    limit: RateLimit | None
    shadow_mode: bool = False
    quota_mode: bool = False
    detailed_metric: bool = False
    replaces: frozenset[str] = field(default_factory=frozenset)

    @property
    def unlimited(self) -> bool:
        return self.limit is None

    @property
    def name(self) -> str:
        return self.limit.name if self.limit is not None else ""
