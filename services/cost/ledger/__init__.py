"""The usage ledger: every usage event recorded exactly once, priced, and summed into the
spend aggregates in the same transaction.

- `writer.LedgerWriter`: batches concurrent callers' events into transactions.
- `aggregates`: the daily spend tables, their incremental upsert and `rebuild`.
- `stream_consumer.UsageStreamConsumer`: the router's usage stream into the writer, acknowledged
  only after the commit; `stream_format` parses its entries.
"""

from services.cost.ledger.aggregates import rebuild
from services.cost.ledger.rows import UnstorableUsage
from services.cost.ledger.stream_consumer import (
    ConsumerSettings,
    StreamMetrics,
    UsageStreamConsumer,
)
from services.cost.ledger.writer import LedgerMetrics, LedgerWriter, RecordOutcome

__all__ = [
    "ConsumerSettings",
    "LedgerMetrics",
    "LedgerWriter",
    "RecordOutcome",
    "StreamMetrics",
    "UnstorableUsage",
    "UsageStreamConsumer",
    "rebuild",
]
