"""Config loading: every load-error fixture of envoyproxy/ratelimit gives the reference's text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.ratelimit.envoy.config import (
    ConfigError,
    ConfigFile,
    load_config,
    read_directory,
)
from services.ratelimit.envoy.rules import RateLimit, Unit

from .harness import config_from


def load_fixtures(config_dir: Path, *names: str, merge: bool = False) -> None:
    files = [ConfigFile(name, (config_dir / name).read_text()) for name in names]
    load_config(files, merge_domains=merge)


@pytest.mark.parametrize(
    ("fixture", "error"),
    [
        ("bad_limit_unit.yaml", "invalid rate limit unit 'foo'"),
        ("empty_domain.yaml", "config file cannot have empty domain"),
        ("duplicate_key.yaml", "duplicate descriptor composite key 'test-domain.key1_value1'"),
        ("empty_key.yaml", "descriptor has empty key"),
        ("misspelled_key.yaml", "config error, unknown key 'ratelimit'"),
        ("misspelled_key2.yaml", "config error, unknown key 'requestsperunit'"),
        ("non_map_list.yaml", "config error, yaml file contains list of type other than map: a"),
        ("non_string_key.yaml", "config error, key is not of type string: 0.25"),
        ("replaces_empty.yaml", "should not have an empty replaces entry"),
        ("replaces_self.yaml", "replaces should not contain name of same descriptor"),
        ("unlimited_with_unit.yaml", "should not specify rate limit unit when unlimited"),
    ],
)
def test_load_error_fixture(config_dir: Path, fixture: str, error: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_fixtures(config_dir, fixture)
    assert str(caught.value) == f"{fixture}: {error}"


def test_load_error_bad_yaml(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^bad_yaml\.yaml: error loading config file: "):
        load_fixtures(config_dir, "bad_yaml.yaml")


def test_load_error_duplicate_domain(config_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_fixtures(config_dir, "basic_config.yaml", "duplicate_domain.yaml")
    assert (
        str(caught.value) == "duplicate_domain.yaml: duplicate domain 'test-domain' in config file"
    )


def test_load_error_share_threshold_without_wildcard() -> None:
    text = """
domain: d
descriptors:
  - key: files
    value: plain
    share_threshold: true
    rate_limit: {unit: minute, requests_per_unit: 1}
"""
    with pytest.raises(ConfigError) as caught:
        config_from(text, "share.yaml")
    assert str(caught.value) == (
        "share.yaml: share_threshold can only be used with wildcard values (containing '*'), "
        "but found key 'files_plain'"
    )


@pytest.mark.parametrize(("value", "shown"), [("a.b", "files_a.b"), ("", "files")])
def test_share_threshold_error_names_the_composite_key(value: str, shown: str) -> None:
    text = f"domain: d\ndescriptors:\n  - {{key: files, value: '{value}', share_threshold: true}}\n"
    with pytest.raises(ConfigError, match=re.escape(f"but found key '{shown}'")):
        config_from(text)


def test_load_error_missing_unit_is_an_invalid_unit() -> None:
    with pytest.raises(ConfigError, match=r"^u\.yaml: invalid rate limit unit ''$"):
        config_from("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {}\n", "u.yaml")


def test_merge_domain_config_merges_same_domain(config_dir: Path) -> None:
    names = ("merge_domain_key1.yaml", "merge_domain_key2.yaml")
    files = [ConfigFile(name, (config_dir / name).read_text()) for name in names]
    root = load_config(files, merge_domains=True).domain("test-domain")
    assert root is not None
    assert set(root.children) == {"key1_value1", "key2_value2"}
    with pytest.raises(ConfigError, match="duplicate domain 'test-domain'"):
        load_config(files)


def test_merge_domain_config_still_refuses_duplicate_keys(config_dir: Path) -> None:
    text = (config_dir / "merge_domain_key1.yaml").read_text()
    files = [ConfigFile("a.yaml", text), ConfigFile("b.yaml", text)]
    with pytest.raises(ConfigError) as caught:
        load_config(files, merge_domains=True)
    assert str(caught.value) == (
        "b.yaml: duplicate descriptor composite key 'test-domain.key1_value1'"
    )


def test_basic_config_loads_with_units_names_and_flags(config_dir: Path) -> None:
    config = load_config(
        [ConfigFile("basic_config.yaml", (config_dir / "basic_config.yaml").read_text())]
    )
    root = config.domain("test-domain")
    assert root is not None
    key4 = root.children["key4"].rule
    assert key4 is not None
    assert key4.limit == RateLimit(1, Unit.DAY, "key4_rate_limit")
    key6 = root.children["key6"].rule
    assert key6 is not None
    assert key6.unlimited
    assert root.children["key2_value3"].rule is None
    assert (
        root.children["key1_value1"].children["subkey1"].full_key
        == "test-domain.key1_value1.subkey1"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("domain: d\ndomain: e\n", "mapping key 'domain' already defined"),
        ("- a\n", "the document must be a mapping"),
        ("domain: d\ndescriptors: nope\n", "descriptors must be a list"),
        ("domain: [a]\n", "config error, yaml file contains list of type other than map: a"),
        ("domain: {name: x}\n", "domain must be a string"),
        ("? [a]\n: x\n", "error loading config file: .*unhashable"),
        ("~: x\n", "key is not of type string: <nil>$"),
        ("true: x\n", "key is not of type string: true$"),
        ("descriptors: [[a, 1, false, ~]]\n", "other than map: \\[a 1 false <nil>\\]$"),
        ("descriptors: [{a: b}, {c: d}]\n", "unknown key 'a'$"),
        ("descriptors:\n  - [{k: v}]\n", "other than map: \\[map\\[k:v\\]\\]$"),
    ],
)
def test_malformed_documents_are_refused(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        config_from(text, "bad.yaml")


@pytest.mark.parametrize(
    ("descriptor", "error"),
    [
        ("{key: k, shadow_mode: 1}", "shadow_mode must be true or false"),
        ("{key: k, rate_limit: 5}", "rate_limit must be a mapping"),
        ("{key: k, rate_limit: {unit: s}}", "invalid rate limit unit 's'"),
        ("{key: k, rate_limit: {unit: hour, requests_per_unit: -1}}", "got -1"),
        ("{key: k, rate_limit: {unit: day, requests_per_unit: true}}", "got True"),
        ("{key: k, rate_limit: {unit: day, requests_per_unit: 1.5}}", "error checking config"),
        ("{key: k, rate_limit: {unit: day, replaces: x}}", "replaces must be a list"),
    ],
)
def test_malformed_descriptors_are_refused(descriptor: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        config_from(f"domain: d\ndescriptors:\n  - {descriptor}\n", "bad.yaml")


def test_empty_document_has_an_empty_domain() -> None:
    with pytest.raises(ConfigError, match=r"^e\.yaml: config file cannot have empty domain$"):
        config_from("", "e.yaml")


def test_scalars_read_as_text_and_metadata_is_not_key_checked() -> None:
    text = """
domain: 42
descriptors:
  - key: port
    value: 8080
    metadata: {anything: {goes: here}}
    shadow_mode: ~
    rate_limit: {unit: SECOND, requests_per_unit: 3, name: ~}
"""
    root = config_from(text).domain("42")
    assert root is not None
    rule = root.children["port_8080"].rule
    assert rule is not None
    assert rule.limit == RateLimit(3, Unit.SECOND, "")


def test_wildcard_children_are_kept_in_config_order() -> None:
    text = """
domain: d
descriptors:
  - {key: k, value: "b*", rate_limit: {unit: second, requests_per_unit: 1}}
  - {key: k, value: "a*", rate_limit: {unit: second, requests_per_unit: 1}}
  - {key: k, value: "c", rate_limit: {unit: second, requests_per_unit: 1}}
"""
    root = config_from(text).domain("d")
    assert root is not None
    assert [node.value for node in root.wildcards] == ["b*", "a*"]


def test_read_directory_takes_yaml_files_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text("domain: b\n")
    (tmp_path / "a.yaml").write_text("domain: a\n")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "dir.yaml").mkdir()
    assert [f.name for f in read_directory(tmp_path)] == ["a.yaml", "b.yml"]


def test_read_directory_reports_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot list configuration directory"):
        read_directory(tmp_path / "absent")


def test_read_directory_reports_undecodable_files(tmp_path: Path) -> None:
    (tmp_path / "latin.yaml").write_bytes(b"domain: \xff\n")
    with pytest.raises(ConfigError, match=r"^latin\.yaml: error loading config file: "):
        read_directory(tmp_path)
