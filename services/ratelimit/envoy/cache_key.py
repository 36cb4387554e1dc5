"""The counter key of one descriptor in one window, in the reference server's exact format.

`<prefix><domain>_<k1>_<v1>_<k2>_<v2>_..._<window start>`: every entry adds `key_value_`, even
with an empty value (`key__`), and a share_threshold entry contributes its pattern instead of
its runtime value, so all matching values land on one counter.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.ratelimit.envoy.request import Entry


def cache_key(
    prefix: str,
    domain: str,
    entries: Sequence[Entry],
    shared_values: Sequence[str | None],
    window_start: int,
) -> str:
    """The store key; `shared_values[i]` (when not None) stands in for entry i's value."""
    parts = [prefix, domain, "_"]
    for index, entry in enumerate(entries):
        shared = shared_values[index] if index < len(shared_values) else None
        parts += [entry.key, "_", entry.value if shared is None else shared, "_"]
    parts.append(str(window_start))
    return "".join(parts)
