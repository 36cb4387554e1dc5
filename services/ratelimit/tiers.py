"""Tiers: named sets of limits that a subject's calls are checked against, read from YAML.

The file maps each tier name to its limits; any limit may be left out, which means there is no
such limit, and 0 admits nothing. `models` adds limits on calls to one model, counted per subject
and model on top of the tier's own:

    tiers:
      free:
        requests_per_day: 10
        requests_per_minute: 2
        tokens_per_minute: 4000
      pro:
        requests_per_day: 1000
        models:
          gpt-4o: {requests_per_minute: 20, tokens_per_minute: 40000}

A bad file raises `TiersFileError` listing every problem at once (duplicate keys included, which
YAML would otherwise let the last one win silently), so an operator fixes it in one pass rather
than one restart per typo.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TIERS_PATH = Path(__file__).with_name("tiers.yaml")

AMOUNT_MAX = 10**15
"""The largest limit or token amount. Redis' Lua numbers are doubles, exact below 2**53; keeping
every amount far below that keeps every count exact however many calls add up in a window."""

MODEL_NAME_MAX = 200

Amount = Annotated[int, Field(strict=True, ge=0, le=AMOUNT_MAX)]
TierName = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
ModelName = Annotated[str, Field(strict=True, min_length=1, max_length=MODEL_NAME_MAX)]


class TiersFileError(ValueError):
    """The tiers file cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, source: str, problems: list[str]) -> None:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the tiers file:\n{listing}")
        self.source = source
        self.problems = tuple(problems)


class Limits(BaseModel):
    """Requests per UTC day, requests per minute and tokens per minute; None means unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_day: Amount | None = None
    requests_per_minute: Amount | None = None
    tokens_per_minute: Amount | None = None


class Tier(Limits):
    """A tier's own limits plus its per-model limits."""

    models: dict[ModelName, Limits] = Field(default_factory=dict)


class TierCatalog(BaseModel):
    """Every tier the service knows, in the order of the file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tiers: dict[TierName, Tier] = Field(min_length=1)

    def get(self, name: str) -> Tier | None:
        return self.tiers.get(name)


def load_tiers(path: Path | str = DEFAULT_TIERS_PATH) -> TierCatalog:
    """Reads and validates a tiers file, or raises `TiersFileError` with every problem in it."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TiersFileError(source, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    return parse_tiers(text, source=source)


def parse_tiers(text: str, *, source: str = "<tiers>") -> TierCatalog:
    """Validates the text of a tiers file; `source` names it in the error."""
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise TiersFileError(source, [f"not valid YAML: {exc}"]) from exc
    try:
        return TierCatalog.model_validate(document)
    except pydantic.ValidationError as exc:
        raise TiersFileError(source, [_describe(error) for error in exc.errors()]) from exc


def _describe(error: Any) -> str:
    location = ".".join(str(part) if part != "" else '""' for part in error["loc"])
    location = location or "(top level)"
    return f"{location}: {error['msg']}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)
