"""The model catalogue: which deployments serve each public model, read from YAML.

    models:
      gpt-4o-mini:
        strategy: ordered            # ordered | weighted | lowest_latency | least_in_flight
        deployments:
          - name: openai-primary     # unique in the catalogue: names breakers, faults, metrics
            provider: openai         # openai (any OpenAI-compatible API) | anthropic | mock
            upstream_model: gpt-4o-mini
            base_url: https://api.openai.com/v1
            api_key_secret: OPENAI_API_KEY   # the secret's name, never the key
            weight: 1
            timeout_seconds: 30
            max_retries: 2
          - name: mock-fallback
            provider: mock
            options: {latency_seconds: 0.05, failure_rate: 0}

A bad file raises `CatalogueError` listing every problem at once; a reload with a bad file keeps
the catalogue in use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODELS_FILE = Path(__file__).with_name("models.yaml")

Strategy = Literal["ordered", "weighted", "lowest_latency", "least_in_flight"]
ProviderKind = Literal["openai", "anthropic", "mock"]
Name = Annotated[str, Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")]


class CatalogueError(ValueError):
    """The catalogue cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, source: str, problems: list[str]) -> None:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the catalogue:\n{listing}")
        self.source = source
        self.problems = tuple(problems)


class Deployment(BaseModel):
    """One way to serve a model: a provider, its model name there, and how to reach it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    provider: ProviderKind
    upstream_model: str = Field(default="", max_length=200)
    base_url: str = Field(default="", max_length=2000)
    api_key_secret: str = Field(default="", max_length=200)
    weight: int = Field(default=1, ge=0, le=1_000_000)
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    max_retries: int = Field(default=2, ge=0, le=10)
    options: Mapping[str, Any] = Field(default_factory=dict)
    """Provider-specific settings (the mock's latency, failure rate and answer size)."""


class ModelRoute(BaseModel):
    """A public model name and the deployments that serve it, in fallback order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    strategy: Strategy = "ordered"
    deployments: tuple[Deployment, ...] = Field(min_length=1)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[Name, ModelRoute]


class Catalogue:
    """Public model name to route; immutable once built."""

    def __init__(self, models: Mapping[str, ModelRoute]) -> None:
        self._models = dict(models)

    def route(self, model: str) -> ModelRoute | None:
        return self._models.get(model)

    @property
    def models(self) -> tuple[ModelRoute, ...]:
        return tuple(self._models[name] for name in sorted(self._models))

    def deployments(self) -> tuple[tuple[str, Deployment], ...]:
        """Every (model, deployment) pair, models sorted by name."""
        return tuple((m.name, d) for m in self.models for d in m.deployments)


Check = Callable[["Catalogue"], list[str]]
"""A further check of a parsed catalogue (a provider's options), listing its problems."""


def load_catalogue(path: Path, check: Check | None = None) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
    return parse_catalogue(text, str(path), check)


def parse_catalogue(
    text: str, source: str = "<catalogue>", check: Check | None = None
) -> Catalogue:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(source, [f"not valid YAML: {exc}"]) from exc
    if isinstance(raw, dict) and isinstance(raw.get("models"), dict):
        # The route's name is its key; let the file leave it out.
        for name, route in raw["models"].items():
            if isinstance(route, dict):
                route.setdefault("name", name)
    try:
        parsed = _File.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise CatalogueError(source, [_describe(error) for error in exc.errors()]) from exc
    catalogue = Catalogue(parsed.models)
    problems = _semantic_problems(parsed.models) + (check(catalogue) if check else [])
    if problems:
        raise CatalogueError(source, problems)
    return catalogue


def _describe(error: Any) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(file)"
    return f"{where}: {error['msg']}"


def _semantic_problems(models: Mapping[str, ModelRoute]) -> list[str]:
    problems: list[str] = []
    seen: dict[str, str] = {}
    for model in models.values():
        for deployment in model.deployments:
            where = f"models.{model.name}.deployments.{deployment.name}"
            if deployment.name in seen:
                problems.append(f"{where}: name already used in models.{seen[deployment.name]}")
            seen.setdefault(deployment.name, model.name)
            if deployment.provider != "mock" and not deployment.base_url:
                problems.append(f"{where}: base_url is required for provider {deployment.provider}")
        if model.strategy == "weighted" and not any(d.weight for d in model.deployments):
            problems.append(f"models.{model.name}: weighted strategy needs a weight above 0")
    return problems


class CatalogueFile:
    """The catalogue in use and the file it came from; `reload` swaps it only when valid."""

    def __init__(self, path: Path, check: Check | None = None) -> None:
        self._path = path
        self._check = check
        self.current = load_catalogue(path, check)

    def reload(self) -> Catalogue:
        """Read the file again; raises CatalogueError and keeps the current one when it is bad."""
        self.current = load_catalogue(self._path, self._check)
        return self.current
