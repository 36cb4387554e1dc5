"""Flag definitions the tests share, in flagd's JSON format."""

from __future__ import annotations

import json
from typing import Any

CHECKOUT: dict[str, Any] = {
    "flags": {
        "new-checkout": {
            "state": "ENABLED",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
            "targeting": {"if": [{"$ref": "is_staff"}, "on", None]},
        },
        "banner": {
            "state": "ENABLED",
            "variants": {"red": "#f00", "blue": "#00f"},
            "defaultVariant": "red",
        },
        "model-experiment": {
            "state": "ENABLED",
            "variants": {"small": "gpt-4o-mini", "large": "gpt-4o"},
            "defaultVariant": "small",
            "targeting": {"fractional": [["small", 50], ["large", 50]]},
            "metadata": {"experiment": "models-q4"},
        },
    },
    "$evaluators": {"is_staff": {"ends_with": [{"var": "email"}, "@example.com"]}},
    "metadata": {"flagSetId": "checkout", "team": "payments"},
}


def checkout_json(**changes: Any) -> str:
    """CHECKOUT as JSON, with top-level keys replaced by `changes`."""
    return json.dumps({**CHECKOUT, **changes})


def boolean_flag(default: str = "on", **extra: Any) -> dict[str, Any]:
    return {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": default,
        **extra,
    }


def nested(depth: int) -> Any:
    """An object `depth` levels deep, counting itself."""
    node: Any = 1
    for _ in range(depth):
        node = {"a": node}
    return node
