"""Which configured limit applies to one request descriptor, and the stats key it counts under.

The walk follows envoyproxy/ratelimit: at each level try the exact `key_value` node, then the
wildcard nodes in config order, then the key-only node; a limit applies only if the node
reached by the *last* entry carries one. There is no backtracking, so a value branch that
fails deeper down never falls back to the key-only branch.

One deliberate difference: a wildcard node matches when the entry key equals the node key and
the entry value matches the node's value pattern. The reference matches the pattern against
the joined `key_value` text, which lets a key containing `_` bleed into a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from services.ratelimit.envoy.config import Node
from services.ratelimit.envoy.request import Descriptor, Entry
from services.ratelimit.envoy.rules import RateLimit, Rule, Unit


class _How(Enum):
    EXACT = "exact"
    WILDCARD = "wildcard"
    KEY = "key"


@dataclass(frozen=True)
class _Step:
    entry: Entry
    node: Node
    how: _How

    @property
    def shared_value(self) -> str | None:
        """The pattern that stands in for the value when all matches share one counter."""
        if self.how is _How.WILDCARD and self.node.share_threshold:
            return self.node.value
        return None


@dataclass(frozen=True)
class Match:
    """The rule that applies to a descriptor.

    `shared_values[i]`, when not None, replaces entry i's value in the counter key
    (share_threshold), so every value matching that wildcard counts against one counter.
    """

    rule: Rule
    stats_key: str
    shared_values: tuple[str | None, ...] = ()


def find_limit(root: Node, domain: str, descriptor: Descriptor) -> Match | None:
    """The applicable rule in the domain tree `root`, or None when nothing limits the descriptor."""
    if descriptor.override is not None:
        limit = RateLimit(descriptor.override.requests_per_unit, Unit(descriptor.override.unit))
        return Match(Rule(limit=limit), override_stats_key(domain, descriptor.entries))
    steps = _walk(root, descriptor.entries)
    if steps is None:
        return None
    rule = steps[-1].node.rule
    if rule is None:
        return None
    return Match(rule, _stats_key(domain, steps, rule), tuple(s.shared_value for s in steps))


def override_stats_key(domain: str, entries: tuple[Entry, ...]) -> str:
    """`<domain>.<k1>_<v1>.<k2>...`, the stats key of a request-supplied limit."""
    return ".".join([domain, *(_key_value(entry) for entry in entries)])


def _walk(root: Node, entries: tuple[Entry, ...]) -> list[_Step] | None:
    """The nodes matched entry by entry, or None if the request and the tree part ways."""
    steps: list[_Step] = []
    level = root
    for entry in entries:
        step = _match_level(level, entry)
        if step is None:
            return None  # includes a request deeper than the config: a leaf has no children
        steps.append(step)
        level = step.node
    return steps


def _match_level(level: Node, entry: Entry) -> _Step | None:
    exact = level.children.get(f"{entry.key}_{entry.value}")
    if exact is not None:
        return _Step(entry, exact, _How.EXACT)
    for node in level.wildcards:
        if node.key == entry.key and node.pattern and node.pattern.fullmatch(entry.value):
            return _Step(entry, node, _How.WILDCARD)
    key_only = level.children.get(entry.key)
    if key_only is not None:
        return _Step(entry, key_only, _How.KEY)
    return None


def _stats_key(domain: str, steps: list[_Step], rule: Rule) -> str:
    """The reference's stats key rules: config path, or per-value with the metric flags.

    `detailed_metric` (on the matched leaf) names every level by its runtime `key_value`,
    except levels sharing a threshold, which keep their pattern. Otherwise `value_to_metric`
    on a node puts the runtime value into that level's name; all else keeps the config path.
    """
    if rule.detailed_metric:
        if any(step.shared_value is not None for step in steps):
            parts = [_shared_or_runtime(step) for step in steps]
        else:
            parts = [f"{step.entry.key}_{step.entry.value}" for step in steps]
    else:
        parts = [_level_name(step) for step in steps]
    return ".".join([domain, *parts])


def _shared_or_runtime(step: _Step) -> str:
    if step.shared_value is not None:
        return f"{step.entry.key}_{step.shared_value}"
    return _key_value(step.entry)


def _level_name(step: _Step) -> str:
    node = step.node
    if step.how is _How.WILDCARD and (node.share_threshold or not node.value_to_metric):
        return f"{node.key}_{node.value}"
    if step.how is _How.KEY and not node.value_to_metric:
        return node.key
    return _key_value(step.entry)


def _key_value(entry: Entry) -> str:
    return f"{entry.key}_{entry.value}" if entry.value else entry.key
