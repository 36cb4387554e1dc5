"""Subjects: who a quota belongs to, named like resources (`keys/{id}`, `users/{id}`,
`tenants/{id}`).

The id alphabet, `[A-Za-z0-9._~:@+=-]` and 1 to 200 characters, leaves out Redis' glob
characters (`*?[]\\`), its hash-tag braces and the `|` our keys use as a separator, so a subject
can go into a key or a SCAN pattern as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUBJECT_KINDS = ("keys", "users", "tenants")
SUBJECT_ID_MAX = 200

_SUBJECT = re.compile(rf"(?:{'|'.join(SUBJECT_KINDS)})/[A-Za-z0-9._~:@+=\-]{{1,{SUBJECT_ID_MAX}}}")


@dataclass(frozen=True)
class QuotaSubject:
    """One subject of a check and the tier whose limits apply to it."""

    name: str
    tier: str


def subject_problem(name: str) -> str | None:
    """What is wrong with a subject name, or None when it is well formed."""
    if not name:
        return "is required"
    if _SUBJECT.fullmatch(name) is None:
        return (
            'must be "keys/{id}", "users/{id}" or "tenants/{id}" with an id of 1 to '
            f"{SUBJECT_ID_MAX} characters from [A-Za-z0-9._~:@+=-]"
        )
    return None
