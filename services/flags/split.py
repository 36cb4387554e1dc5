"""The fractional split of a flag's targeting, and moving its weights.

A rollout edits one `fractional` operation: `{"fractional": [<bucketing>?, [variant, weight],
...]}`. Its buckets must name variants literally (a rollout cannot move weights it cannot
read). The bucketing expression, when there is one, is kept, so users stay in their bucket;
with flagd's bucketing a user is in the first bucket when `hash * total >> 32 < its weight`,
so keeping the total constant and growing the first bucket only ever adds users to it: once
in, a user stays in.

An empty targeting is given a split of its own (bucketing by targeting key), its buckets in
the order of the flag's variants.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from svckit.errors import FailedPrecondition

FRACTIONAL = "fractional"
MAX_TOTAL_WEIGHT = 2_147_483_647

Path = tuple[int | str, ...]


def find_splits(node: Any, path: Path = ()) -> list[Path]:
    """Paths to every `{"fractional": [...]}` in a JsonLogic tree."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in find_splits(item, (*path, i))]
    if not isinstance(node, dict):
        return []
    found = [path] if len(node) == 1 and FRACTIONAL in node else []
    for key, value in node.items():
        found += find_splits(value, (*path, key))
    return found


def split_variants(definition: Mapping[str, Any]) -> list[str]:
    """The variants of the flag's one split (its variants when it has no targeting)."""
    targeting = definition.get("targeting") or {}
    if not targeting:
        return list(definition["variants"])
    _, buckets = _bucket_arguments(_the_split(targeting))
    return [_literal_variant(bucket) for bucket in buckets]


def with_weights(definition: Mapping[str, Any], weights: Mapping[str, int]) -> dict[str, Any]:
    """The flag with its split's buckets set to `weights` (existing order kept, new variants
    after, in the order of the flag's variants)."""
    updated = copy.deepcopy(dict(definition))
    targeting = updated.get("targeting") or {}
    if not targeting:
        order = [name for name in updated["variants"] if name in weights]
        updated["targeting"] = {FRACTIONAL: [[name, weights[name]] for name in order]}
        return updated
    path = _split_path(targeting)
    node = _at(targeting, path)
    bucketing, buckets = _bucket_arguments(node)
    existing = [_literal_variant(bucket) for bucket in buckets]
    order = existing + [
        name for name in updated["variants"] if name in weights and name not in existing
    ]
    node[FRACTIONAL] = bucketing + [[name, weights.get(name, 0)] for name in order]
    return updated


def _the_split(targeting: Any) -> dict[str, Any]:
    split: dict[str, Any] = _at(targeting, _split_path(targeting))
    return split


def _split_path(targeting: Any) -> Path:
    paths = find_splits(targeting)
    if len(paths) != 1:
        raise FailedPrecondition(
            f"the flag's targeting has {len(paths)} fractional splits; a rollout needs one "
            "(or an empty targeting)",
            reason="NO_SINGLE_SPLIT",
        )
    return paths[0]


def _at(node: Any, path: Path) -> Any:
    for step in path:
        node = node[step]
    return node


def _bucket_arguments(node: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    arguments = node[FRACTIONAL]
    if not isinstance(arguments, list) or not arguments:
        raise FailedPrecondition("the fractional split has no buckets", reason="NO_SINGLE_SPLIT")
    if isinstance(arguments[0], list):
        return [], list(arguments)
    return [arguments[0]], list(arguments[1:])


def _literal_variant(bucket: Any) -> str:
    if isinstance(bucket, list) and bucket and isinstance(bucket[0], str):
        return bucket[0]
    raise FailedPrecondition(
        "the fractional split's buckets must name their variants literally",
        reason="NO_SINGLE_SPLIT",
    )


__all__ = ["MAX_TOTAL_WEIGHT", "find_splits", "split_variants", "with_weights"]
