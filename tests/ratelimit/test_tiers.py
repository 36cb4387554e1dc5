from __future__ import annotations

from pathlib import Path

import pytest

from services.ratelimit.tiers import (
    AMOUNT_MAX,
    DEFAULT_TIERS_PATH,
    Limits,
    TiersFileError,
    load_tiers,
    parse_tiers,
)

FILES = Path(__file__).with_name("tiers_files")


def problems_of(name: str) -> tuple[str, ...]:
    with pytest.raises(TiersFileError) as caught:
        load_tiers(FILES / name)
    return caught.value.problems


def test_default_file_has_the_documented_tiers() -> None:
    catalog = load_tiers()
    assert list(catalog.tiers) == ["free", "starter", "pro", "enterprise"]
    daily = [tier.requests_per_day for tier in catalog.tiers.values()]
    assert daily == [10, 100, 1_000, 5_000]
    for tier in catalog.tiers.values():
        assert tier.requests_per_minute is not None
        assert tier.tokens_per_minute is not None
    assert catalog.tiers["pro"].models["gpt-4o"] == Limits(
        requests_per_minute=20, tokens_per_minute=60_000
    )
    assert catalog.tiers["free"].models == {}


def test_default_path_is_shipped_beside_the_module() -> None:
    assert DEFAULT_TIERS_PATH.name == "tiers.yaml"
    assert DEFAULT_TIERS_PATH.is_file()


def test_absent_limits_are_none_and_zero_is_kept() -> None:
    catalog = load_tiers(FILES / "only_model_limits.yaml")
    research = catalog.tiers["research"]
    assert research.requests_per_day is None
    assert research.models["o1"].requests_per_day == 0
    assert catalog.tiers["unlimited"].tokens_per_minute is None
    assert catalog.get("unlimited") is not None
    assert catalog.get("missing") is None


def test_negative_limit() -> None:
    assert problems_of("negative_limit.yaml") == (
        "tiers.free.requests_per_day: Input should be greater than or equal to 0",
    )


def test_limits_must_be_integers_not_strings_floats_or_booleans() -> None:
    problems = problems_of("limit_not_an_integer.yaml")
    assert [problem.split(":")[0] for problem in problems] == [
        "tiers.free.requests_per_day",
        "tiers.free.requests_per_minute",
        "tiers.free.tokens_per_minute",
    ]


def test_unknown_field_is_refused_not_ignored() -> None:
    assert problems_of("unknown_field.yaml") == (
        "tiers.free.requests_per_hour: Extra inputs are not permitted",
    )


@pytest.mark.parametrize("name", ["duplicate_tier.yaml", "duplicate_model.yaml"])
def test_duplicate_keys_are_refused(name: str) -> None:
    [problem] = problems_of(name)
    assert "duplicate key" in problem


def test_a_file_without_tiers() -> None:
    [problem] = problems_of("no_tiers.yaml")
    assert problem.startswith("tiers: ")


def test_invalid_yaml() -> None:
    [problem] = problems_of("not_yaml.yaml")
    assert problem.startswith("not valid YAML")


def test_bad_tier_and_model_names() -> None:
    problems = problems_of("bad_names.yaml")
    assert [problem.split(":")[0] for problem in problems] == [
        "tiers.free tier.[key]",
        'tiers.pro.models."".[key]',
    ]


def test_every_problem_is_listed_at_once_with_the_file_name() -> None:
    path = FILES / "many_problems.yaml"
    with pytest.raises(TiersFileError) as caught:
        load_tiers(path)
    assert len(caught.value.problems) == 4
    message = str(caught.value)
    assert message.startswith(f"{path}: 4 problem(s) in the tiers file:")
    for problem in caught.value.problems:
        assert f"  - {problem}" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TiersFileError, match="cannot read the file"):
        load_tiers(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ("just text", "(top level)"),
        ("tiers: [free]", "tiers"),
        (f"tiers: {{free: {{requests_per_day: {AMOUNT_MAX + 1}}}}}", "tiers.free.requests_per_day"),
    ],
)
def test_wrong_shapes(text: str, location: str) -> None:
    with pytest.raises(TiersFileError) as caught:
        parse_tiers(text)
    assert caught.value.problems[0].startswith(f"{location}: ")
