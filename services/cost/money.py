"""Money as integers: nano-units (1e-9) of a currency, never a float.

A price per million tokens times a token count is exact in integers: nanos per million tokens
* tokens / 1,000,000. The division is the only rounding, and it happens once per event and
token kind, half up (ROUND_HALF_UP on integers), so the same event always costs the same.
"""

from __future__ import annotations

from dataclasses import dataclass

NANOS_PER_UNIT = 1_000_000_000
CURRENCIES = frozenset({"USD", "EUR", "GBP", "JPY", "CNY", "CHF", "CAD", "AUD", "INR"})
"""Currencies we accept: a short list on purpose, so a typo ("USD " or "usd") is refused rather
than starting a ledger of its own. Add codes as operators need them."""


class CurrencyMismatch(ValueError):
    pass


@dataclass(frozen=True, slots=True, order=True)
class Money:
    currency: str
    nanos: int

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot add {other.currency} to {self.currency}")
        return Money(self.currency, self.nanos + other.nanos)

    def __sub__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot subtract {other.currency} from {self.currency}")
        return Money(self.currency, self.nanos - other.nanos)

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        return cls(currency, 0)

    def __str__(self) -> str:
        sign = "-" if self.nanos < 0 else ""
        units, nanos = divmod(abs(self.nanos), NANOS_PER_UNIT)
        return f"{sign}{units}.{nanos:09d} {self.currency}"


def per_million(tokens: int, nanos_per_million: int) -> int:
    """Cost in nanos of `tokens` at a price in nanos per million tokens, rounded half up."""
    return (tokens * nanos_per_million + 500_000) // 1_000_000
