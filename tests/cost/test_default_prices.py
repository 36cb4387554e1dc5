"""The default price table: genai-prices' bundled data as integer nanos, by (provider, model)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price
from genai_prices import types as gp

from services.cost.price import cost_of
from services.cost.pricing import default_prices
from services.cost.pricing.default_prices import EPOCH, DefaultPrices, load_default_prices, to_nanos
from services.cost.usage import UsageRecord

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TOKEN_PRICE_KEYS = {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok"}


@pytest.fixture(scope="module")
def table() -> DefaultPrices:
    return load_default_prices()


def test_gpt_4o_converts_exactly_to_nanos_per_million(table: DefaultPrices) -> None:
    row = table.price("openai", "gpt-4o", AT)

    assert row is not None
    assert (row.provider, row.model, row.currency, row.source, row.id) == (
        "openai",
        "gpt-4o",
        "USD",
        "default",
        None,
    )
    assert row.input_per_million == 2_500_000_000
    assert row.output_per_million == 10_000_000_000
    assert row.cached_input_per_million == 1_250_000_000
    assert row.cache_write_per_million == 0  # no separate price: written tokens cost input
    assert row.valid_from == EPOCH


@pytest.mark.parametrize("name", ["gpt-4o-2024-08-06", "gpt-4o-20240806", "GPT-4o"])
def test_model_names_match_what_genai_prices_matches(table: DefaultPrices, name: str) -> None:
    plain = table.price("openai", "gpt-4o", AT)
    row = table.price("openai", name, AT)

    assert row is not None
    assert plain is not None
    assert row.model == name
    assert row.input_per_million == plain.input_per_million


def test_provider_aliases_resolve_to_genai_prices_providers(table: DefaultPrices) -> None:
    by_id = table.price("x-ai", "grok-3", AT)
    by_alias = table.price("xai", "grok-3", AT)

    assert by_id is not None
    assert by_alias is not None
    assert by_alias.input_per_million == by_id.input_per_million
    assert by_alias.provider == "xai"


def test_azure_prices_openai_models_through_its_fallback(table: DefaultPrices) -> None:
    azure = table.price("azure", "gpt-4o", AT)

    assert azure is not None
    assert azure.input_per_million == 2_500_000_000


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("mock", "gpt-4o"),
        ("", "gpt-4o"),
        ("  ", "gpt-4o"),
        ("openai", "no-such-model"),
        ("openai", ""),
    ],
)
def test_an_unknown_provider_or_model_has_no_default_price(
    table: DefaultPrices, provider: str, model: str
) -> None:
    assert table.price(provider, model, AT) is None


def test_a_long_context_tier_applies_above_its_start(table: DefaultPrices) -> None:
    base = table.price("anthropic", "claude-sonnet-4-5", AT, input_tokens=200_000)
    long = table.price("anthropic", "claude-sonnet-4-5", AT, input_tokens=200_001)

    assert base is not None
    assert long is not None
    assert (base.input_per_million, base.output_per_million) == (3_000_000_000, 15_000_000_000)
    assert base.cache_write_per_million == 3_750_000_000
    assert long.input_per_million == 6_000_000_000


def test_float_noise_in_the_data_rounds_half_up_to_the_nano() -> None:
    assert to_nanos(Decimal("0.18000000000000002")) == 180_000_000
    assert to_nanos(Decimal("1.0399999999999998")) == 1_040_000_000
    assert to_nanos(Decimal("0.0000000015")) == 2
    assert to_nanos(Decimal("0.0000000014")) == 1


@pytest.mark.parametrize("input_tokens", [150_000, 1_000_000])
def test_every_token_priced_model_costs_what_genai_prices_computes(
    table: DefaultPrices, input_tokens: int
) -> None:
    """Cross-check with genai-prices' own calculator over the whole table. Its input tokens
    include cache writes; ours (price.cost_of) count them apart, hence the subtraction."""
    read, write, output = 20_000, 1_000, 30_000
    compared = 0
    providers = load_default_prices()._providers
    for provider in providers:
        for model in provider.models:
            resolved = provider.find_model(model.id, all_providers=providers)
            if resolved is None:  # an id its own rules do not match: neither prices it
                assert table.price(provider.id, model.id, AT) is None
                continue
            prices = resolved.get_prices(AT)
            keys = {k for k, v in prices.__dict__.items() if v is not None}
            if not keys & {"input_mtok", "output_mtok"} or not keys <= TOKEN_PRICE_KEYS:
                continue
            usage = Usage(
                input_tokens=input_tokens,
                cache_read_tokens=read,
                cache_write_tokens=write,
                output_tokens=output,
            )
            theirs = calc_price(
                usage, model.id, provider_id=provider.id, genai_request_timestamp=AT
            )
            record = UsageRecord(
                request_id="r",
                occurred_at=AT,
                input_tokens=input_tokens - write,
                cached_tokens=read,
                cache_write_tokens=write,
                output_tokens=output,
            )
            row = table.price(provider.id, model.id, AT, record.input_tokens)
            assert row is not None, (provider.id, model.id)
            expected = theirs.total_price * 1_000_000_000
            assert abs(cost_of(record, row).nanos - expected) <= 3, (provider.id, model.id)
            compared += 1
    assert compared > 1_000


def _provider(*models: gp.ModelInfo, provider_id: str = "acme") -> gp.Provider:
    return gp.Provider(id=provider_id, name="Acme", api_pattern="", models=list(models))


def _model(model_id: str, prices: gp.ModelPrice | list[gp.ConditionalPrice]) -> gp.ModelInfo:
    return gp.ModelInfo(id=model_id, match=gp.ClauseEquals(equals=model_id), prices=prices)


def test_a_free_cache_read_or_reasoning_is_kept_as_one_nano() -> None:
    prices = gp.ModelPrice(
        input_mtok=Decimal(1),
        output_mtok=Decimal(2),
        cache_read_mtok=Decimal(0),
        cache_write_mtok=Decimal(0),
        output_reasoning_mtok=Decimal("0.5"),
    )
    row = DefaultPrices([_provider(_model("m", prices))]).price("acme", "m", AT)

    assert row is not None
    assert (row.cached_input_per_million, row.cache_write_per_million) == (1, 1)
    assert row.reasoning_per_million == 500_000_000


def test_a_model_priced_only_per_unit_has_no_default_price() -> None:
    per_hour = gp.ModelPrice(audio_hours=Decimal("0.36"))
    table = DefaultPrices([_provider(_model("whisper", per_hour))])

    assert table.price("acme", "whisper", AT) is None


def test_a_dated_price_change_applies_from_its_start_date() -> None:
    history = [
        gp.ConditionalPrice(prices=gp.ModelPrice(input_mtok=Decimal(1), output_mtok=Decimal(2))),
        gp.ConditionalPrice(
            constraint=gp.StartDateConstraint(start_date=date(2025, 3, 1)),
            prices=gp.ModelPrice(input_mtok=Decimal(3), output_mtok=Decimal(4)),
        ),
    ]
    table = DefaultPrices([_provider(_model("m", history))])

    before = table.price("acme", "m", datetime(2025, 2, 28, 23, 59, tzinfo=UTC))
    after = table.price("acme", "m", datetime(2025, 3, 1, 0, 0, tzinfo=UTC))

    assert before is not None
    assert after is not None
    assert (before.input_per_million, before.valid_from) == (1_000_000_000, EPOCH)
    assert after.input_per_million == 3_000_000_000
    assert after.valid_from == datetime(2025, 3, 1, tzinfo=UTC)


def test_a_time_of_day_price_applies_within_its_hours() -> None:
    peak = gp.TimeOfDateConstraint(
        start_time=time(0, 30, tzinfo=UTC), end_time=time(16, 30, tzinfo=UTC)
    )
    prices = [
        gp.ConditionalPrice(prices=gp.ModelPrice(input_mtok=Decimal(1))),
        gp.ConditionalPrice(constraint=peak, prices=gp.ModelPrice(input_mtok=Decimal(2))),
    ]
    table = DefaultPrices([_provider(_model("m", prices))])

    off_peak = table.price("acme", "m", datetime(2025, 1, 1, 20, 0, tzinfo=UTC))
    at_peak = table.price("acme", "m", datetime(2025, 1, 1, 10, 0, tzinfo=UTC))

    assert off_peak is not None
    assert at_peak is not None
    assert (off_peak.input_per_million, at_peak.input_per_million) == (1_000_000_000, 2_000_000_000)
    assert at_peak.output_per_million == 0
    assert at_peak.valid_from == EPOCH


def test_the_lookup_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default_prices, "_CACHE_LIMIT", 3)
    prices = gp.ModelPrice(input_mtok=Decimal(1))
    table = DefaultPrices([_provider(_model("m", prices))])

    for index in range(10):
        table.price("acme", f"unknown-{index}", AT)

    assert len(table._models) <= 3
    assert table.price("acme", "m", AT) is not None
