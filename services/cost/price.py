"""A model's price and what a call costs at it.

Prices are integer nanos of a currency per million tokens of each kind. What a call costs:

    (input - cached) * input + cached * cached_input + cache_write * cache_write
    + (output - reasoning) * output + reasoning * reasoning_price

where a zero `cached_input`, `cache_write` or `reasoning` price means "no separate price": those
tokens cost the plain input or output price (providers bill reasoning tokens as output unless
they say otherwise). A zero cannot be told from "unset", so a genuinely free cache read is
priced at one nano per million. Each part is rounded half up once (`per_million`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.cost.money import Money, per_million
from services.cost.usage import UsageRecord


@dataclass(frozen=True, slots=True)
class PriceRow:
    provider: str
    model: str
    valid_from: datetime
    currency: str
    input_per_million: int
    output_per_million: int
    cached_input_per_million: int = 0
    cache_write_per_million: int = 0
    reasoning_per_million: int = 0
    source: str = "operator"
    """"default" (the maintained price table) or "operator"."""
    id: int | None = None
    """The row in `cost_prices`; None for a default price."""


def cost_of(record: UsageRecord, price: PriceRow) -> Money:
    cached = min(record.cached_tokens, record.input_tokens)
    reasoning = min(record.reasoning_tokens, record.output_tokens)
    cached_price = price.cached_input_per_million or price.input_per_million
    write_price = price.cache_write_per_million or price.input_per_million
    reasoning_price = price.reasoning_per_million or price.output_per_million
    nanos = (
        per_million(record.input_tokens - cached, price.input_per_million)
        + per_million(cached, cached_price)
        + per_million(record.cache_write_tokens, write_price)
        + per_million(record.output_tokens - reasoning, price.output_per_million)
        + per_million(reasoning, reasoning_price)
    )
    return Money(price.currency, nanos)
