"""Prices: protobuf to `PriceRow` and back."""

from __future__ import annotations

from datetime import UTC, datetime

from switchboard.cost.v1 import cost_service_pb2 as pb

from services.cost.convert import timestamp
from services.cost.price import PriceRow


def price_row(message: pb.Price, now: datetime) -> PriceRow:
    """An operator's price; an unset `valid_from` means now."""
    valid_from = (
        message.valid_from.ToDatetime(tzinfo=UTC) if message.HasField("valid_from") else now
    )
    return PriceRow(
        provider=message.provider,
        model=message.model,
        valid_from=valid_from,
        currency=message.currency_code or "USD",
        input_per_million=message.input_per_million,
        output_per_million=message.output_per_million,
        cached_input_per_million=message.cached_input_per_million,
        cache_write_per_million=message.cache_write_per_million,
        reasoning_per_million=message.reasoning_per_million,
        source="operator",
    )


def price_message(row: PriceRow) -> pb.Price:
    return pb.Price(
        provider=row.provider,
        model=row.model,
        valid_from=timestamp(row.valid_from),
        currency_code=row.currency,
        input_per_million=row.input_per_million,
        output_per_million=row.output_per_million,
        cached_input_per_million=row.cached_input_per_million,
        cache_write_per_million=row.cache_write_per_million,
        reasoning_per_million=row.reasoning_per_million,
        source=row.source,
    )
