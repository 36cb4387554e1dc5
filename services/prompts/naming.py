"""What names, labels, tags and the free-text fields may be.

- A prompt name is one or more segments separated by "/" (folders); each segment is lowercase
  letters, digits, ".", "_" and "-", starting with a letter or digit. At most 200 characters.
  So no empty segment, no leading or trailing "/", no ".." folder, and nothing that needs
  escaping in a URL path (the REST routes are `/v1/prompts/{name=**}`), in a label selector or
  in a log line. The cost ledger keeps names of up to 200 characters.
- A label is one such segment of at most 36 characters (Langfuse's limit: labels are short
  words like `production`, `staging`, `prod-a`).
- A tag is one such segment of at most 64 characters; a prompt has at most 20.
- Placeholders are identifiers, as variables are.
- Commit messages and move reasons: at most 500 characters; authors and actors: at most 200.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from svckit.errors import Violations

MAX_NAME = 200
MAX_LABEL = 36
MAX_TAG = 64
MAX_TAGS = 20
MAX_MESSAGE = 500
MAX_PERSON = 200

_SEGMENT = r"[a-z0-9][a-z0-9._-]*"
NAME = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
WORD = re.compile(_SEGMENT)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

NAME_RULE = (
    f"1-{MAX_NAME} characters: segments of [a-z0-9._-] starting with a letter or digit, "
    "separated by '/'"
)
LABEL_RULE = f"1-{MAX_LABEL} characters of [a-z0-9._-], starting with a letter or digit"
TAG_RULE = f"1-{MAX_TAG} characters of [a-z0-9._-], starting with a letter or digit"


def check_name(v: Violations, name: str, field: str = "name") -> None:
    if not name:
        v.add(field, "is required")
    elif len(name) > MAX_NAME or not NAME.fullmatch(name):
        v.add(field, NAME_RULE)


def check_label(v: Violations, label: str, field: str = "label") -> None:
    if not label:
        v.add(field, "is required")
    elif len(label) > MAX_LABEL or not WORD.fullmatch(label):
        v.add(field, LABEL_RULE)


def check_tags(v: Violations, tags: Sequence[str], field: str = "tags") -> None:
    if len(tags) > MAX_TAGS:
        v.add(field, f"at most {MAX_TAGS} tags")
    for i, tag in enumerate(tags):
        if len(tag) > MAX_TAG or not WORD.fullmatch(tag):
            v.add(f"{field}[{i}]", TAG_RULE)


def check_text(v: Violations, value: str, field: str, limit: int) -> None:
    if len(value) > limit:
        v.add(field, f"at most {limit} characters")


def check_name_prefix(v: Violations, prefix: str, field: str = "name_prefix") -> None:
    """A prefix of a valid name: a name, possibly ending with "/" or cut mid-segment."""
    if not prefix:
        return
    body = prefix.removesuffix("/")
    if len(prefix) > MAX_NAME or not body or not NAME.fullmatch(body):
        v.add(field, "must be the start of a valid name: " + NAME_RULE)


__all__ = [
    "IDENTIFIER",
    "LABEL_RULE",
    "MAX_LABEL",
    "MAX_MESSAGE",
    "MAX_NAME",
    "MAX_PERSON",
    "MAX_TAGS",
    "NAME_RULE",
    "check_label",
    "check_name",
    "check_name_prefix",
    "check_tags",
    "check_text",
]
