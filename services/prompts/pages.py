"""Page sizes and page tokens of the List RPCs.

A token is opaque to clients: URL-safe base64 of a small JSON object holding where the next page
starts and a fingerprint of the filters it was made with, so a token reused with other filters
is refused (INVALID_ARGUMENT on `page_token`) instead of silently returning the wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any, TypeVar

from svckit.errors import InvalidArgument, Violations

T = TypeVar("T", int, str)


def page_size(v: Violations, size: int, default: int, maximum: int) -> int:
    if size < 0:
        v.add("page_size", "cannot be negative")
    return min(size or default, maximum)


def encode(after: Any, *filters: object) -> str:
    raw = json.dumps({"after": after, "filters": _fingerprint(filters)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, kind: type[T], *filters: object) -> T | None:
    """Where the page starts (None for the first page)."""
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after = data["after"]
        if data["filters"] == _fingerprint(filters) and type(after) is kind:
            return after
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise InvalidArgument.field(
        "page_token", "is not a token of a previous page with the same filters"
    )


def _fingerprint(filters: tuple[object, ...]) -> str:
    return hashlib.sha256(json.dumps([str(f) for f in filters]).encode()).hexdigest()[:16]
