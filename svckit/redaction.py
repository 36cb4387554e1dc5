"""Scrubs secrets and personal data out of text before it is logged.

What it removes: bearer tokens, API keys (`sk-...`, `sbk_...`, the gateway's own
`sb-<id>-<secret>`, whose public id is kept, and `key=...`-style pairs),
e-mail addresses, phone numbers, and card numbers (13 to 19 digits that pass the Luhn check,
so order ids and timestamps survive). It is a last line of defence: code should not log these
in the first place.
"""

from __future__ import annotations

import re
from collections.abc import Callable

REDACTED = "[REDACTED]"
# Structured fields whose name says they hold a secret are dropped whole, whatever the value.
SECRET_FIELD = re.compile(r"(?i)(api[_-]?key|authorization|password|passwd|secret|token)")

_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}")
_API_KEY = re.compile(r"\b(?:sk|pk|rk|sbk)[-_][A-Za-z0-9_-]{8,}")
_GATEWAY_KEY = re.compile(r"\b(sb-[0-9a-f]{12}-)[A-Za-z0-9_-]{8,}")
_SECRET_PAIR = re.compile(
    r"(?i)\b((?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password|passwd)"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"
)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+(@)")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# Not inside a longer number or a decimal ("3.14159..."), but a sentence's full stop may follow.
_CARD = re.compile(r"(?<!\d)(?<!\d\.)\d(?:[ -]?\d){12,18}(?!\d|\.\d)")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?![\w])"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return REDACTED if _luhn_ok(digits) else match.group(0)


_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (_BEARER, rf"\1 {REDACTED}"),
    (_URL_PASSWORD, rf"\1{REDACTED}\2"),
    (_GATEWAY_KEY, rf"\1{REDACTED}"),
    (_API_KEY, REDACTED),
    (_SECRET_PAIR, rf"\1{REDACTED}"),
    (_EMAIL, REDACTED),
    (_CARD, _card),
    (_PHONE, REDACTED),
)


def redact(text: str) -> str:
    """Return `text` with every secret or personal datum replaced by [REDACTED]."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


__all__ = ["REDACTED", "SECRET_FIELD", "redact"]
