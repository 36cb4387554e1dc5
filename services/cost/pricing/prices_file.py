"""Operators' prices file (YAML), loaded into `cost_prices` at start-up.

    prices:
      - provider: openai          # as in the router's catalogue; "" (or left out): a price for
        model: gpt-4o             #   the public model name, whatever serves it
        valid_from: 2025-01-01T00:00:00Z   # a time zone is required
        currency: USD             # one of money.CURRENCIES; USD when left out
        input_per_million: 2.5    # currency units per million tokens
        output_per_million: 10
        cached_input_per_million: 1.25     # optional, as are cache_write_per_million and
                                           #   reasoning_per_million (0/absent: the plain rate)

Amounts are decimals in currency units, converted exactly to integer nanos: YAML numbers are
read as their written digits (never through a float), and an amount finer than a nano is an
error rather than silently rounded. A bad file raises `PricesFileError` listing every problem
at once, and nothing is written.

Loading is idempotent, so every replica can load the same file at every start: a row already
stored (same provider, model and valid_from, same currency and amounts) is skipped; a stored row
at the same key with different amounts is an error (prices are versions, never edited: add a
row with a later valid_from instead). Rows may be older than stored ones: the file is the
operators' declared history, typically loaded before any usage is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from services.cost.money import CURRENCIES, NANOS_PER_UNIT
from services.cost.price import PriceRow
from services.cost.pricing.price_store import PriceStore
from services.cost.tables import NAME
from svckit.errors import AlreadyExists

OPERATOR = "operator"
_MAX_NANOS = 2**63 - 1
_AMOUNTS = (
    "input_per_million",
    "output_per_million",
    "cached_input_per_million",
    "cache_write_per_million",
    "reasoning_per_million",
)


class PricesFileError(ValueError):
    """The prices file cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the prices file:\n{listing}")
        self.source = source
        self.problems = tuple(problems)


def _nanos(amount: Decimal) -> int:
    nanos = amount * NANOS_PER_UNIT
    if nanos != nanos.to_integral_value():
        raise ValueError("is finer than a nano (9 decimal places)")
    if nanos > _MAX_NANOS:
        raise ValueError("is too large")
    return int(nanos)


Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class PriceEntry(BaseModel):
    """One row of the file, amounts in currency units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str = Field(default="", max_length=NAME)
    model: str = Field(min_length=1, max_length=NAME)
    valid_from: AwareDatetime
    currency: str = "USD"
    input_per_million: Amount
    output_per_million: Amount
    cached_input_per_million: Amount = Decimal(0)
    cache_write_per_million: Amount = Decimal(0)
    reasoning_per_million: Amount = Decimal(0)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown currency {value!r}; one of {', '.join(sorted(CURRENCIES))}")
        return value

    @field_validator(*_AMOUNTS)
    @classmethod
    def _whole_nanos(cls, value: Decimal) -> Decimal:
        _nanos(value)
        return value

    def to_row(self) -> PriceRow:
        return PriceRow(
            provider=self.provider,
            model=self.model,
            valid_from=self.valid_from,
            currency=self.currency,
            **{name: _nanos(getattr(self, name)) for name in _AMOUNTS},
            source=OPERATOR,
        )


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prices: list[PriceEntry]


class _DecimalLoader(yaml.SafeLoader):
    """Safe YAML whose floats are Decimals of their written digits (2.675 stays 2.675)."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text  # .inf, .nan, 1:30.5: left for validation to refuse


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def parse_prices_file(text: str, source: str = "<prices>") -> list[PriceRow]:
    """The file's rows as operator prices in nanos; PricesFileError lists every problem."""
    try:
        raw = yaml.load(text, Loader=_DecimalLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        raise PricesFileError(source, [f"not valid YAML: {exc}"]) from exc
    try:
        parsed = _File.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise PricesFileError(source, [_describe(error) for error in exc.errors()]) from exc
    rows = [entry.to_row() for entry in parsed.prices]
    problems = _duplicates(rows)
    if problems:
        raise PricesFileError(source, problems)
    return rows


def load_prices_file(path: Path) -> list[PriceRow]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PricesFileError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
    return parse_prices_file(text, str(path))


@dataclass(frozen=True, slots=True)
class AppliedPrices:
    added: int
    unchanged: int


async def apply_prices(
    store: PriceStore, rows: Sequence[PriceRow], source: str = "<prices>"
) -> AppliedPrices:
    """Store the rows not stored yet; PricesFileError, with nothing written, when a stored
    row at the same key differs. Safe when replicas apply the same file at once."""
    problems: list[str] = []
    missing: list[PriceRow] = []
    for index, row in enumerate(rows):
        stored = await store.get(row.provider, row.model, row.valid_from)
        if stored is None:
            missing.append(row)
        elif not same_price(stored, row):
            problems.append(_conflict(index, stored))
    if problems:
        raise PricesFileError(source, problems)
    for row in missing:
        await _add_or_match(store, row, source)
    return AppliedPrices(added=len(missing), unchanged=len(rows) - len(missing))


async def load_prices_into(store: PriceStore, path: Path) -> AppliedPrices:
    """Start-up: read the file at `path` and apply it."""
    return await apply_prices(store, load_prices_file(path), str(path))


def same_price(a: PriceRow, b: PriceRow) -> bool:
    """Same currency and amounts (the key is assumed equal; source and id are not compared)."""
    return a.currency == b.currency and all(getattr(a, n) == getattr(b, n) for n in _AMOUNTS)


async def _add_or_match(store: PriceStore, row: PriceRow, source: str) -> None:
    """Insert; a replica that inserted the same row meanwhile is fine, a different one is not."""
    try:
        await store.add(row)
    except AlreadyExists as exc:
        stored = await store.get(row.provider, row.model, row.valid_from)
        if stored is None or not same_price(stored, row):
            problem = f"{_key(row)}: stored meanwhile with other amounts"
            raise PricesFileError(source, [problem]) from exc


def _conflict(index: int, stored: PriceRow) -> str:
    return (
        f"prices[{index}]: differs from the stored price of {_key(stored)} (id {stored.id}); "
        "prices are never edited: add a row with a later valid_from"
    )


def _key(row: PriceRow) -> str:
    return f"{row.provider or '(any provider)'}/{row.model} from {_iso(row.valid_from)}"


def _iso(value: datetime) -> str:
    return value.isoformat()


def _duplicates(rows: Sequence[PriceRow]) -> list[str]:
    problems: list[str] = []
    first: dict[tuple[str, str, datetime], int] = {}
    for index, row in enumerate(rows):
        key = (row.provider, row.model, row.valid_from)
        if key in first:
            problems.append(
                f"prices[{index}]: same provider, model and valid_from as prices[{first[key]}]"
            )
        first.setdefault(key, index)
    return problems


def _describe(error: Any) -> str:
    where = ""
    for part in error["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return f"{where or '(file)'}: {error['msg']}"
