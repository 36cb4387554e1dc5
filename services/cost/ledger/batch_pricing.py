"""Pricing a batch of usage events, asking the Pricer as little as possible.

An operator's price is in force from its `valid_from` until the next version's, so for events
of one model (provider, upstream model, public model) the operator's price at the earliest and
at the latest event being the same row means no new version started in between: every event
of the group has that price. Only a group that straddles a price change is priced event by
event. A batch of a thousand events of a few models thus costs a few lookups, not a thousand.

A price from the default table is not flat within a version: genai-prices' long-context tiers
depend on each call's input tokens, and some prices on the time of day (DeepSeek's off-peak
hours). Events priced from it are priced one by one (a lookup costs about 8 µs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from services.cost.ledger_hooks import PricedUsage, Pricer
from services.cost.price import PriceRow, cost_of
from services.cost.pricing.default_prices import SOURCE as DEFAULT_SOURCE
from services.cost.usage import UsageRecord


async def price_batch(pricer: Pricer, records: Sequence[UsageRecord]) -> list[PricedUsage]:
    """Each record with its cost (None when no price is known), in the records' order."""
    groups: defaultdict[tuple[str, str, str], list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        groups[(record.provider, record.upstream_model, record.model)].append(index)
    prices: list[PriceRow | None] = [None] * len(records)
    for indexes in groups.values():
        indexes.sort(key=lambda i: records[i].occurred_at)
        first = await pricer.price_for(records[indexes[0]])
        last = await pricer.price_for(records[indexes[-1]]) if len(indexes) > 1 else first
        if first == last and (first is None or first.source != DEFAULT_SOURCE):
            for i in indexes:
                prices[i] = first
        else:
            for i in indexes:
                prices[i] = await pricer.price_for(records[i])
    return [_priced(record, price) for record, price in zip(records, prices, strict=True)]


def _priced(record: UsageRecord, price: PriceRow | None) -> PricedUsage:
    if price is None:
        return PricedUsage(record, None, None)
    return PricedUsage(record, cost_of(record, price), price.id)
