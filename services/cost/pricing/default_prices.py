"""The default price table: `genai-prices`' bundled data, looked up by (provider, model name).

The data is the `genai_prices.data` module inside the installed wheel (0.2.3): it is read
offline and never refreshed from the network (`genai_prices.UpdatePrices` is not used), so a
price only changes with a deliberate upgrade of the package, and start-up never waits on a
remote fetch. Operators override or add prices on top (`price_book`).

Provider names. A usage record names the provider of the deployment that served it, as in the
router's catalogue: "openai", "anthropic", "mock", ... That name is resolved with genai-prices'
own provider matching (`find_provider_by_id`): first its provider ids ("openai", "anthropic",
"google", "azure", "aws", "x-ai", "mistral", "deepseek", "groq", "together", ...), then its
aliases ("xai" -> x-ai, "bedrock" -> aws, "gemini" or "vertex" -> google, "together_ai" ->
together). A name it does not know ("mock", "") has no default price. An "openai" deployment
that points at another OpenAI-compatible vendor is priced as OpenAI's model of that name, if
OpenAI has one: give such deployments an operator price.

Model names match exactly what genai-prices matches for that provider (`Provider.find_model`):
case-insensitive rules per model (equals, starts-with, regex: "gpt-4o-2024-08-06" is gpt-4o),
compact dates ("-20251211" read as "-2025-12-11"), and the provider's fallbacks (Azure prices
OpenAI's models, Google Anthropic's).

Conversion. Prices are Decimal US dollars per million tokens; ours are integer nano-dollars per
million tokens, `price * 10**9` in Decimal. Most are exact; a few entries carry float noise in
the data (0.18000000000000002), and those round half up to the nano per million tokens (an error
under 1e-15 dollars a token). Which parts of genai-prices' model we keep:

- the price in force at the call's time, by genai-prices' own rules (`ModelInfo.get_prices`):
  dated price changes and time-of-day prices (DeepSeek's off-peak hours) both apply;
- tiered prices (Anthropic's and Google's long-context rates) resolved by the call's input
  tokens, as genai-prices does: above a tier's start, every token pays the tier's rate;
- token prices only: input, output, cache read, cache write (the 5-minute write; the 1-hour
  write price is not kept, usage does not tell them apart) and reasoning. A model without an
  input or output token price (priced per second, image or request) has no default price.
- no request-context variants (batch, flex or priority tiers): the standard price.

A price of zero for cache reads, cache writes or reasoning means "same as input/output" in
`PriceRow`, so a genuinely free one becomes one nano per million tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from genai_prices import types as gp
from genai_prices.data_snapshot import find_provider_by_id

from services.cost.price import PriceRow

CURRENCY = "USD"
"""genai-prices prices everything in US dollars."""
SOURCE = "default"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""valid_from of a default price that has no dated start."""
_NANOS = Decimal(10**9)
_CACHE_LIMIT = 10_000
"""Most (provider, model) lookups remembered; model names come from requests, so bounded."""

_Price = Decimal | gp.TieredPrices | None


def to_nanos(dollars: Decimal) -> int:
    """Nanos of `dollars`, exact when representable, else rounded half up to the nano."""
    return int((dollars * _NANOS).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class DefaultPrices:
    """genai-prices' table as (provider, model) -> the price in force at a time."""

    def __init__(self, providers: Sequence[gp.Provider]) -> None:
        self._providers = list(providers)
        self._models: dict[tuple[str, str], gp.ModelInfo | None] = {}

    def price(
        self, provider: str, model: str, at: datetime, input_tokens: int = 0
    ) -> PriceRow | None:
        """The default price of `model` at `provider` in force at `at` for a call of
        `input_tokens` input tokens (which picks a long-context tier); None when unknown."""
        info = self._model(provider, model)
        if info is None:
            return None
        prices = info.get_prices(at)
        if prices.input_mtok is None and prices.output_mtok is None:
            return None
        return PriceRow(
            provider=provider,
            model=model,
            valid_from=_valid_from(info, at),
            currency=CURRENCY,
            input_per_million=_nanos(prices.input_mtok, input_tokens),
            output_per_million=_nanos(prices.output_mtok, input_tokens),
            cached_input_per_million=_optional_nanos(prices.cache_read_mtok, input_tokens),
            cache_write_per_million=_optional_nanos(prices.cache_write_mtok, input_tokens),
            reasoning_per_million=_optional_nanos(prices.output_reasoning_mtok, input_tokens),
            source=SOURCE,
        )

    def _model(self, provider: str, model: str) -> gp.ModelInfo | None:
        key = (provider, model)
        if key in self._models:
            return self._models[key]
        found = self._find(provider, model)
        if len(self._models) >= _CACHE_LIMIT:
            self._models.clear()
        self._models[key] = found
        return found

    def _find(self, provider: str, model: str) -> gp.ModelInfo | None:
        if not provider.strip() or not model:
            return None
        found = find_provider_by_id(self._providers, provider)
        if found is None:
            return None
        return found.find_model(model, all_providers=self._providers)


def load_default_prices() -> DefaultPrices:
    """The table bundled with the installed genai-prices (imported here: it is large)."""
    from genai_prices.data import providers

    return DefaultPrices(providers)


def _tier_price(price: Decimal | gp.TieredPrices, input_tokens: int) -> Decimal:
    if isinstance(price, Decimal):
        return price
    for tier in reversed(price.tiers):
        if input_tokens > tier.start:
            return tier.price
    return price.base


def _nanos(price: _Price, input_tokens: int) -> int:
    return 0 if price is None else to_nanos(_tier_price(price, input_tokens))


def _optional_nanos(price: _Price, input_tokens: int) -> int:
    """0 means "unset" in PriceRow, so a stated price of zero is kept as one nano."""
    if price is None:
        return 0
    return to_nanos(_tier_price(price, input_tokens)) or 1


def _valid_from(info: gp.ModelInfo, at: datetime) -> datetime:
    """Start of the newest dated price change on or before `at` (informational)."""
    if isinstance(info.prices, gp.ModelPrice):
        return EPOCH
    starts = [
        c.constraint.start_date
        for c in info.prices
        if isinstance(c.constraint, gp.StartDateConstraint) and c.constraint.active(at)
    ]
    return _midnight(max(starts)) if starts else EPOCH


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)
