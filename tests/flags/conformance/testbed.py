"""The flagd testbed (../shared/conformance/flagd-testbed, release 3.9.0), read in place.

The testbed's image runs flagd with one of four launchpad configurations; here the same
configurations become settings of our service (`launchpad_settings`): its flag files as
`FLAGS_SOURCE_FILES` under the names selectors use (`flags/allFlags.json`,
`rawflags/selector-flags.json`, ...), its `context-value` as `FLAGS_STATIC_CONTEXT`, its
`disable-sync-metadata` as `FLAGS_SYNC_METADATA_DISABLED`. `allFlags.json` is built as the
launchpad builds it: every `flags/*.json` not starting with `selector`, in name order,
deep-merged (objects key by key, a later file winning a scalar).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tests.backends import missing_backend

ROOT = Path(__file__).resolve().parents[3]
TESTBED = Path(
    os.environ.get("SWITCHBOARD_FLAGD_TESTBED", ROOT.parent / "shared/conformance/flagd-testbed")
)
ALL_FLAGS = "flags/allFlags.json"


def require_testbed() -> Path:
    """The testbed directory; skips (fails in CI) when it is not there."""
    if not (TESTBED / "version.txt").is_file():
        missing_backend(f"no flagd testbed at {TESTBED} (set SWITCHBOARD_FLAGD_TESTBED)")
    return TESTBED


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def all_flags() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted((TESTBED / "flags").glob("*.json")):
        if not path.name.startswith("selector"):
            merged = deep_merge(merged, json.loads(path.read_text()))
    return merged


def launchpad_settings(config: str, workdir: Path) -> dict[str, Any]:
    """FlagsSettings values equivalent to the launchpad configuration `config`."""
    data = json.loads((TESTBED / "launchpad" / "configs" / f"{config}.json").read_text())
    sources = []
    for source in data["sources"]:
        uri = source["uri"]
        if uri == ALL_FLAGS:
            path = workdir / "allFlags.json"
            path.write_text(json.dumps(all_flags(), indent=2))
        else:
            path = TESTBED / "flags" / uri.removeprefix("rawflags/")
        sources.append(f"{uri}={path}")
    return {
        "source_files": tuple(sources),
        "static_context": data.get("context-value", {}),
        "sync_metadata_disabled": bool(data.get("disable-sync-metadata", False)),
    }


def feature_tags(directory: Path) -> set[str]:
    """Every tag used by the feature files under `directory`."""
    tags: set[str] = set()
    for path in directory.glob("*.feature"):
        for line in path.read_text().splitlines():
            if line.strip().startswith("@"):
                tags.update(re.findall(r"@([^\s@]+)", line))
    return tags


__all__ = [
    "ALL_FLAGS",
    "TESTBED",
    "all_flags",
    "feature_tags",
    "launchpad_settings",
    "require_testbed",
]
