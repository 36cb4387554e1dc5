"""Rate-limit descriptor configuration: YAML files in envoyproxy/ratelimit's format, checked.

One file holds one domain and its tree of descriptors. Loading either yields a complete
`RateLimitConfig` or raises `ConfigError` with the reference server's text, prefixed by the
file name (`bad_limit_unit.yaml: invalid rate limit unit 'foo'`), so operators can use the same
runbooks. Nothing is half-loaded: the caller keeps its previous config on error.

Two deliberate differences: a key repeated in one YAML mapping is an error (PyYAML would
silently keep the last one, hiding a typo'd override), and scalar keys/values are read as
YAML types (`value: 200` is "200", `value: true` is "true").
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from services.ratelimit.envoy.rules import UINT32_MAX, RateLimit, Rule, Unit

CONFIG_SUFFIXES = (".yaml", ".yml")

_VALID_KEYS = frozenset(
    {
        "domain",
        "key",
        "value",
        "descriptors",
        "rate_limit",
        "unit",
        "requests_per_unit",
        "unlimited",
        "shadow_mode",
        "quota_mode",
        "name",
        "replaces",
        "detailed_metric",
        "value_to_metric",
        "share_threshold",
        "metadata",
    }
)


_FLAGS = ("shadow_mode", "quota_mode", "detailed_metric", "value_to_metric", "share_threshold")


class ConfigError(Exception):
    """A configuration the service refuses; the text starts with the offending file's name."""


@dataclass(frozen=True)
class ConfigFile:
    """A config file's name (it prefixes every error text) and its content."""

    name: str
    text: str


@dataclass(frozen=True)
class Node:
    """One configured descriptor, or (with an empty key) the root of a domain.

    `full_key` is the config path used for stats (`test-domain.key1_value1.subkey1`);
    `wildcards` are the children whose value holds a `*`, in config order.
    """

    key: str
    value: str
    full_key: str
    rule: Rule | None = None
    value_to_metric: bool = False
    share_threshold: bool = False
    pattern: re.Pattern[str] | None = None
    children: Mapping[str, Node] = field(default_factory=lambda: MappingProxyType({}))
    wildcards: tuple[Node, ...] = ()


@dataclass(frozen=True)
class RateLimitConfig:
    """Every loaded domain; immutable, so a reload swaps one reference and readers never lock."""

    domains: Mapping[str, Node]

    def domain(self, name: str) -> Node | None:
        return self.domains.get(name)


@dataclass
class _Level:
    """Children of one node while a file is being loaded (merged domains keep appending)."""

    children: dict[str, Node] = field(default_factory=dict)
    wildcards: list[Node] = field(default_factory=list)


def read_directory(directory: Path) -> list[ConfigFile]:
    """Every `*.yaml`/`*.yml` file directly in `directory`, sorted by name for a stable order."""
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix in CONFIG_SUFFIXES)
    except OSError as exc:
        raise ConfigError(f"{directory}: cannot list configuration directory: {exc}") from exc
    files = []
    for path in paths:
        if not path.is_file():
            continue
        try:
            files.append(ConfigFile(path.name, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path.name}: error loading config file: {exc}") from exc
    return files


def load_config(files: Sequence[ConfigFile], *, merge_domains: bool = False) -> RateLimitConfig:
    """Build one config from `files` (in order), or raise ConfigError for the first bad one."""
    levels: dict[str, _Level] = {}
    for file in files:
        root = _parse(file)
        domain = _text(file, root.get("domain"), "domain")
        if not domain:
            raise _error(file, "config file cannot have empty domain")
        if domain in levels and not merge_domains:
            raise _error(file, f"duplicate domain '{domain}' in config file")
        level = levels.setdefault(domain, _Level())
        _load_descriptors(file, level, domain + ".", root.get("descriptors"))
    return RateLimitConfig(
        MappingProxyType({name: _freeze_root(name, level) for name, level in levels.items()})
    )


def _freeze_root(domain: str, level: _Level) -> Node:
    return Node(
        key="",
        value="",
        full_key=domain,
        children=MappingProxyType(dict(level.children)),
        wildcards=tuple(level.wildcards),
    )


def _parse(file: ConfigFile) -> dict[Any, Any]:
    try:
        stream = io.StringIO(file.text)
        stream.name = file.name  # shown in the parser's messages
        document = yaml.load(stream, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise _error(file, f"error loading config file: {' '.join(str(exc).split())}") from exc
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise _error(file, "error loading config file: the document must be a mapping")
    _check_keys(file, document)
    return document


def _check_keys(file: ConfigFile, mapping: Mapping[Any, Any]) -> None:
    """Reject unknown or non-string keys anywhere, as the reference does before decoding."""
    for key, value in mapping.items():
        if not isinstance(key, str):
            raise _error(file, f"config error, key is not of type string: {_go_text(key)}")
        if key not in _VALID_KEYS:
            raise _error(file, f"config error, unknown key '{key}'")
        if key == "metadata":
            continue
        if isinstance(value, list):
            for element in value:
                if not isinstance(element, dict):
                    raise _error(
                        file,
                        "config error, yaml file contains list of type other than map: "
                        + _go_text(element),
                    )
                _check_keys(file, element)
        elif isinstance(value, dict):
            _check_keys(file, value)
        elif value is not None and not isinstance(value, str | int | bool):
            raise _error(file, "error checking config")


def _load_descriptors(file: ConfigFile, level: _Level, parent_key: str, raw: Any) -> None:
    for item in _maps(file, raw, "descriptors"):
        key = _text(file, item.get("key"), "key")
        if not key:
            raise _error(file, "descriptor has empty key")
        value = _text(file, item.get("value"), "value")
        composite = f"{key}_{value}" if value else key
        full_key = parent_key + composite
        if composite in level.children:
            raise _error(file, f"duplicate descriptor composite key '{full_key}'")
        node = _node(file, item, key, value, full_key)
        level.children[composite] = node
        if node.pattern is not None:
            level.wildcards.append(node)


def _node(file: ConfigFile, item: Mapping[str, Any], key: str, value: str, full_key: str) -> Node:
    flags = {name: _flag(file, item, name) for name in _FLAGS}
    rule = _rule(file, item.get("rate_limit"), flags)
    share_threshold = flags["share_threshold"]
    if share_threshold and "*" not in value:
        composite = f"{key}_{value}" if value else key
        raise _error(
            file,
            "share_threshold can only be used with wildcard values (containing '*'), "
            f"but found key '{composite}'",
        )
    children = _Level()
    _load_descriptors(file, children, full_key + ".", item.get("descriptors"))
    return Node(
        key=key,
        value=value,
        full_key=full_key,
        rule=rule,
        value_to_metric=flags["value_to_metric"],
        share_threshold=share_threshold,
        pattern=_wildcard(value),
        children=MappingProxyType(children.children),
        wildcards=tuple(children.wildcards),
    )


def _rule(file: ConfigFile, raw: Any, flags: Mapping[str, bool]) -> Rule | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _error(file, "error loading config file: rate_limit must be a mapping")
    unlimited = _flag(file, raw, "unlimited")
    unit_text = _text(file, raw.get("unit"), "unit")
    unit = Unit.parse(unit_text)
    if unlimited and unit is not None:
        raise _error(file, "should not specify rate limit unit when unlimited")
    if not unlimited and unit is None:
        raise _error(file, f"invalid rate limit unit '{unit_text}'")
    name = _text(file, raw.get("name"), "name")
    entries = _maps(file, raw.get("replaces"), "replaces")
    replaces = [_text(file, entry.get("name"), "name") for entry in entries]
    for replaced in replaces:
        if not replaced:
            raise _error(file, "should not have an empty replaces entry")
        if replaced == name:
            raise _error(file, "replaces should not contain name of same descriptor")
    limit = None
    if unit is not None:
        limit = RateLimit(_uint32(file, raw.get("requests_per_unit")), unit, name)
    return Rule(
        limit=limit,
        shadow_mode=flags["shadow_mode"],
        quota_mode=flags["quota_mode"],
        detailed_metric=flags["detailed_metric"],
        replaces=frozenset(replaces),
    )


def _wildcard(value: str) -> re.Pattern[str] | None:
    """`*` matches any run of characters (also none), anywhere and any number of times."""
    if "*" not in value:
        return None
    return re.compile(".*".join(re.escape(part) for part in value.split("*")), re.DOTALL)


def _maps(file: ConfigFile, raw: Any, name: str) -> list[Mapping[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _error(file, f"error loading config file: {name} must be a list")
    return raw


def _text(file: ConfigFile, raw: Any, name: str) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str | int):
        return _go_text(raw)
    raise _error(file, f"error loading config file: {name} must be a string")


def _flag(file: ConfigFile, item: Mapping[str, Any], name: str) -> bool:
    raw = item.get(name, False)
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise _error(file, f"error loading config file: {name} must be true or false")
    return raw


def _uint32(file: ConfigFile, raw: Any) -> int:
    if raw is None:
        return 0
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= UINT32_MAX:
        raise _error(
            file,
            f"error loading config file: requests_per_unit must be 0..{UINT32_MAX}, got {raw!r}",
        )
    return raw


def _go_text(raw: Any) -> str:
    """Render a YAML scalar the way the reference (Go's `%v`) prints it in error texts."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "<nil>"
    if isinstance(raw, list):
        return "[" + " ".join(_go_text(item) for item in raw) + "]"
    if isinstance(raw, dict):
        pairs = " ".join(f"{_go_text(k)}:{_go_text(v)}" for k, v in raw.items())
        return f"map[{pairs}]"
    return str(raw)


def _error(file: ConfigFile, text: str) -> ConfigError:
    return ConfigError(f"{file.name}: {text}")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated within one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str | int | float | bool):
            continue  # unhashable keys are refused by construct_mapping itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping key {key!r} already defined", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
