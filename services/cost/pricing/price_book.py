"""The price book: which price a call is charged at, and how operators change prices.

`price_for(record)` (the ledger's `Pricer`) takes the first of, each at `record.occurred_at`:

1. the operators' price for (record.provider, record.upstream_model),
2. the operators' price for ("", record.model): a price for a public model name, whatever
   serves it,
3. the default table (genai-prices) for (record.provider, record.upstream_model),

and None when none is known: the ledger records the call with its cost unknown and counts it
(`cost_unpriced_events_total`). A record without an upstream model is looked up by its public
model name in steps 1 and 3.

Versions. Every price is valid from a time, so usage is charged the price in force when it
happened, however late its event arrives. `set_price` (the admin API) only adds a version
after the newest one of that (provider, model) (`PriceStore.append`): a version in the middle
of history would change the price of usage already recorded after it, so that is refused with
FailedPrecondition. The ledger also stores each event's cost and price id, so recorded costs
never change. The prices file (`prices_file`) may seed earlier versions: it is the operators'
declared history, loaded at start-up.

Caching and staleness. Operators' rows are few, so all of them are held in memory and every
lookup is local. `set_price` refreshes this replica's copy at once; other replicas re-read the
table when their copy is older than `refresh_seconds` (checked on use, by the injected clock).
So a change made on another replica is used here at most `refresh_seconds` (plus one read)
after it was committed. A change is exact on every replica when its valid_from is at least
`refresh_seconds` ahead of the time it is made; with valid_from = now, calls in the first
`refresh_seconds` may still be charged the old price by other replicas.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from services.cost.money import CURRENCIES
from services.cost.price import PriceRow
from services.cost.pricing.default_prices import DefaultPrices
from services.cost.pricing.price_store import PriceStore
from services.cost.tables import NAME
from services.cost.usage import UsageRecord
from svckit.errors import NotFound, Violations

DEFAULT_REFRESH_SECONDS = 30.0
OPERATOR = "operator"
_AMOUNTS = (
    "input_per_million",
    "output_per_million",
    "cached_input_per_million",
    "cache_write_per_million",
    "reasoning_per_million",
)
_MAX_NANOS = 2**63 - 1

Key = tuple[str, str]


class _Versions:
    """One model's operator versions, oldest first, for lookups by time."""

    def __init__(self, rows: Iterable[PriceRow]) -> None:
        self.rows = sorted(rows, key=lambda row: row.valid_from)
        self._starts = [row.valid_from for row in self.rows]

    def at(self, when: datetime) -> PriceRow | None:
        index = bisect.bisect_right(self._starts, when)
        return self.rows[index - 1] if index else None


class PriceBook:
    """Operators' prices (cached) over the default table; implements `Pricer`."""

    def __init__(
        self,
        store: PriceStore,
        defaults: DefaultPrices | None = None,
        *,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._store = store
        self._defaults = defaults
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._versions: dict[Key, _Versions] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def price_for(self, record: UsageRecord) -> PriceRow | None:
        await self._fresh()
        upstream = record.upstream_model or record.model
        at = record.occurred_at
        found = self._operator(record.provider, upstream, at) or self._operator(
            "", record.model, at
        )
        if found is None and self._defaults is not None:
            found = self._defaults.price(record.provider, upstream, at, record.input_tokens)
        return found

    async def get_price(self, provider: str, model: str, at: datetime | None = None) -> PriceRow:
        """The price in force at `at` (now when None): the operators', else the default
        table's (for a call without input tokens, so the base tier); NotFound when none."""
        when = at or self._now()
        await self._fresh()
        found = self._operator(provider, model, when)
        if found is None and self._defaults is not None:
            found = self._defaults.price(provider, model, when)
        if found is None:
            raise NotFound(
                f"no price for {provider or '(any provider)'}/{model}", reason="NO_PRICE"
            )
        return found

    async def list_prices(
        self, provider: str | None = None, model: str | None = None
    ) -> list[PriceRow]:
        """Operators' versions, newest first (None: any provider or model)."""
        return await self._store.list(provider, model)

    async def set_price(self, row: PriceRow) -> PriceRow:
        """Validate and add an operator version after the newest one of its model.

        InvalidArgument (every bad field at once) for a bad row; FailedPrecondition when a later
        version exists; AlreadyExists when one starts at the same time."""
        validate_price(row)
        stored = await self._store.append(_as_operator(row))
        await self.refresh()
        return stored

    async def refresh(self) -> None:
        """Re-read the operators' prices now."""
        async with self._lock:
            await self._load()

    async def _fresh(self) -> None:
        if self._is_fresh():
            return
        async with self._lock:
            if not self._is_fresh():  # another caller may have reloaded while we waited
                await self._load()

    def _is_fresh(self) -> bool:
        loaded = self._loaded_at
        return loaded is not None and self._clock() - loaded < self._refresh_seconds

    async def _load(self) -> None:
        started = self._clock()
        self._versions = _index(await self._store.list())
        self._loaded_at = started

    def _operator(self, provider: str, model: str, at: datetime) -> PriceRow | None:
        versions = self._versions.get((provider, model))
        return None if versions is None else versions.at(at)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


def validate_price(row: PriceRow, prefix: str = "price.") -> None:
    """InvalidArgument listing every bad field (named as in the API's `Price`)."""
    v = Violations()
    v.check(len(row.provider) <= NAME, f"{prefix}provider", f"at most {NAME} characters")
    v.check(bool(row.model), f"{prefix}model", "is required")
    v.check(len(row.model) <= NAME, f"{prefix}model", f"at most {NAME} characters")
    v.check(row.currency in CURRENCIES, f"{prefix}currency_code", "unknown currency")
    v.check(row.valid_from.tzinfo is not None, f"{prefix}valid_from", "needs a time zone")
    for name in _AMOUNTS:
        amount = getattr(row, name)
        v.check(0 <= amount <= _MAX_NANOS, f"{prefix}{name}", "must be between 0 and 2^63-1")
    v.raise_if_any(reason="INVALID_PRICE")


def _as_operator(row: PriceRow) -> PriceRow:
    return replace(row, source=OPERATOR, id=None)


def _index(rows: Sequence[PriceRow]) -> dict[Key, _Versions]:
    grouped: dict[Key, list[PriceRow]] = {}
    for row in rows:
        grouped.setdefault((row.provider, row.model), []).append(row)
    return {key: _Versions(group) for key, group in grouped.items()}
