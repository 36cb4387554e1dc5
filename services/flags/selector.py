"""flagd selectors: which flags a client sees.

Syntax (flagd's): `source=<flag set id>` or a bare `<flag set id>` selects one flag set (what
flagd calls a source); `flagSetId=<id>` selects the flags whose `flagSetId` (their metadata's,
else their set's metadata's) is that id, and `flagSetId=` the flags that have none. No selector
selects every flag of every set. The `flagd-selector` request header wins over the deprecated
`selector` field of sync requests. Anything else is INVALID_ARGUMENT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from svckit.errors import InvalidArgument

SELECTOR_HEADER = "flagd-selector"
MAX_SELECTOR_LENGTH = 256


class SelectorKind(Enum):
    ALL = "all"
    SOURCE = "source"
    FLAG_SET_ID = "flagSetId"


@dataclass(frozen=True)
class Selector:
    kind: SelectorKind
    value: str = ""


ALL = Selector(SelectorKind.ALL)


def parse_selector(text: str) -> Selector:
    text = text.strip()
    if not text:
        return ALL
    if len(text) > MAX_SELECTOR_LENGTH:
        raise _invalid(f"is longer than {MAX_SELECTOR_LENGTH} characters")
    if "=" not in text:
        return Selector(SelectorKind.SOURCE, text)
    key, _, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if key == "source" and value:
        return Selector(SelectorKind.SOURCE, value)
    if key == "flagSetId":
        return Selector(SelectorKind.FLAG_SET_ID, value)
    raise _invalid("must be '<source>', 'source=<source>' or 'flagSetId=<id>'")


def selector_from(metadata: Iterable[tuple[str, str | bytes]] | None, body: str = "") -> Selector:
    """The selector of a call: its `flagd-selector` header, else `body` (sync requests)."""
    for key, value in metadata or ():
        if key == SELECTOR_HEADER and isinstance(value, str):
            return parse_selector(value)
    return parse_selector(body)


def _invalid(description: str) -> InvalidArgument:
    return InvalidArgument.field(SELECTOR_HEADER, description, reason="INVALID_SELECTOR")


__all__ = ["ALL", "SELECTOR_HEADER", "Selector", "SelectorKind", "parse_selector", "selector_from"]
