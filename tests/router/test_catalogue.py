"""The catalogue file: what it accepts, every problem reported at once, reloads that keep the
current catalogue when the new file is bad."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.router.catalogue import (
    DEFAULT_MODELS_FILE,
    CatalogueError,
    CatalogueFile,
    load_catalogue,
    parse_catalogue,
)

GOOD = """
models:
  gpt-4o:
    strategy: weighted
    deployments:
      - {name: openai-a, provider: openai, upstream_model: gpt-4o, base_url: "http://a/v1",
         api_key_secret: OPENAI_KEY, weight: 3, timeout_seconds: 5, max_retries: 1}
      - {name: claude, provider: anthropic, upstream_model: claude-x, base_url: "http://b/v1"}
"""


def test_a_good_file_gives_routes_in_name_order_with_defaults() -> None:
    catalogue = parse_catalogue(GOOD)
    route = catalogue.route("gpt-4o")
    assert route is not None
    assert route.strategy == "weighted"
    first, second = route.deployments
    assert (first.weight, first.timeout_seconds, first.max_retries) == (3, 5, 1)
    assert (second.weight, second.max_retries, second.timeout_seconds) == (1, 2, 60.0)
    assert catalogue.route("missing") is None
    assert [d.name for _, d in catalogue.deployments()] == ["openai-a", "claude"]


def test_the_default_catalogue_needs_no_provider_key() -> None:
    catalogue = load_catalogue(DEFAULT_MODELS_FILE)
    assert catalogue.models
    assert all(d.provider == "mock" for _, d in catalogue.deployments())


def test_every_problem_is_listed_at_once() -> None:
    text = """
models:
  a:
    strategy: fastest
    deployments:
      - {name: d1, provider: openai, weight: -1}
      - {name: d2, provider: nope, colour: red}
"""
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, "f.yaml")
    problems = caught.value.problems
    assert any("strategy" in p for p in problems)
    assert any("deployments.0.weight" in p for p in problems)
    assert any("deployments.1.provider" in p for p in problems)
    assert any("colour" in p for p in problems)
    assert str(caught.value).startswith("f.yaml: ")


def test_names_must_be_unique_and_http_providers_need_a_base_url() -> None:
    text = """
models:
  a: {deployments: [{name: d, provider: openai}]}
  b: {strategy: weighted, deployments: [{name: d, provider: mock, weight: 0}]}
"""
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text)
    assert caught.value.problems == (
        "models.a.deployments.d: base_url is required for provider openai",
        "models.b.deployments.d: name already used in models.a",
        "models.b: weighted strategy needs a weight above 0",
    )


@pytest.mark.parametrize("text", ["models: [", "just text", "models: {a: {deployments: []}}"])
def test_malformed_files_are_refused(text: str) -> None:
    with pytest.raises(CatalogueError):
        parse_catalogue(text)


def test_a_missing_file_is_a_catalogue_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot read"):
        load_catalogue(tmp_path / "absent.yaml")


def test_a_bad_reload_keeps_the_current_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(GOOD)
    source = CatalogueFile(path)
    path.write_text("models: {broken: {deployments: []}}")
    with pytest.raises(CatalogueError):
        source.reload()
    assert source.current.route("gpt-4o") is not None
    path.write_text(GOOD.replace("gpt-4o:", "gpt-5:"))
    assert source.reload().route("gpt-5") is not None
    assert source.current.route("gpt-4o") is None


def test_an_extra_check_can_refuse_a_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(GOOD)
    with pytest.raises(CatalogueError, match="no claude here"):
        CatalogueFile(path, check=lambda c: ["no claude here"])
