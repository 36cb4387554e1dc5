"""An API key: who it speaks for (tenant, user), what it may do (tier, scopes), and its life.

The plaintext is `sb-<id>-<secret>`: `id` is 12 lowercase hex characters, public, the row's
primary key and what operators see and revoke by; `secret` is `secrets.token_urlsafe(32)`,
256 bits from the operating system's CSPRNG. The plaintext exists once, in `generate()`'s
result, and is shown to its owner once; only a keyed hash of it is stored (`hashing`).

For display a key is its `prefix` (`sb-<id>`): it names the key without any secret part, so
no last characters of the secret are kept anywhere.

A key is usable while it is neither revoked nor past `expires_at` (times are UTC). Its
tenant being disabled also stops it; the store checks that, since it lives on the tenant.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from svckit.errors import Violations

KEY_PREFIX = "sb"
ID_HEX_CHARS = 12
SECRET_BYTES = 32

SCOPES = frozenset({"inference", "admin"})
"""`inference`: the OpenAI-compatible routes. `admin`: the admin API (see `scoping`)."""

NAME_MAX = 200
"""Longest tenant, user, tier or key name kept (the columns' width)."""

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_KEY_ID = re.compile(rf"^[0-9a-f]{{{ID_HEX_CHARS}}}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""Tenant ids and tiers: they become rate-limit and cost dimensions, so no spaces or case."""

_ID = re.compile(rf"^[0-9a-f]{{{ID_HEX_CHARS}}}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43,}$")


class KeyState(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ApiKey:
    """A key as the gateway knows it; it carries neither the plaintext nor the hash."""

    id: str
    tenant: str
    user: str
    tier: str
    scopes: frozenset[str]
    name: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def prefix(self) -> str:
        """How people and logs name the key: the public part of the plaintext."""
        return f"{KEY_PREFIX}-{self.id}"

    def state(self, now: datetime) -> KeyState:
        if self.revoked_at is not None:
            return KeyState.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return KeyState.EXPIRED
        return KeyState.ACTIVE

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class Tenant:
    """A customer of the platform; its id is the `tenant` every service counts and bills by."""

    id: str
    name: str
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True)
class NewKey:
    """What an operator asks for; `validate()` reports every bad field at once."""

    tenant: str
    user: str
    tier: str
    scopes: frozenset[str]
    name: str = ""
    expires_at: datetime | None = None

    def validate(self, now: datetime) -> None:
        v = Violations()
        check_slug(v, "tenant", self.tenant)
        check_slug(v, "tier", self.tier)
        v.check(0 < len(self.user) <= NAME_MAX, "user", f"must be 1 to {NAME_MAX} characters")
        v.check(self.user.strip() == self.user, "user", "must not start or end with spaces")
        v.check(not _CONTROL.search(self.user), "user", "must not hold control characters")
        v.check(len(self.name) <= NAME_MAX, "name", f"must be at most {NAME_MAX} characters")
        v.check(not _CONTROL.search(self.name), "name", "must not hold control characters")
        v.check(bool(self.scopes), "scopes", f"must name at least one of {_listed(SCOPES)}")
        unknown = self.scopes - SCOPES
        v.check(not unknown, "scopes", f"unknown {_listed(unknown)}; known: {_listed(SCOPES)}")
        if self.expires_at is not None:
            v.check(self.expires_at.tzinfo is not None, "expires_at", "must carry a time zone")
            v.check(
                self.expires_at.tzinfo is None or self.expires_at > now,
                "expires_at",
                "must be in the future",
            )
        v.raise_if_any()


def validate_tenant(tenant_id: str, name: str) -> None:
    v = Violations()
    check_slug(v, "id", tenant_id)
    v.check(len(name) <= NAME_MAX, "name", f"must be at most {NAME_MAX} characters")
    v.check(not _CONTROL.search(name), "name", "must not hold control characters")
    v.raise_if_any()


def is_key_id(text: str) -> bool:
    """Whether `text` has the form of a key id; anything else names no key."""
    return bool(_KEY_ID.match(text))


def is_slug(text: str) -> bool:
    """Whether `text` has the form of a tenant id (or a tier); anything else names none."""
    return bool(_SLUG.match(text))


def check_slug(v: Violations, field: str, value: str) -> None:
    v.check(
        is_slug(value),
        field,
        "must be 1 to 64 of a-z, 0-9, '_', '.', '-', starting with a letter or digit",
    )


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


def new_id() -> str:
    return secrets.token_hex(ID_HEX_CHARS // 2)


def generate(spec: NewKey, now: datetime, key_id: str | None = None) -> tuple[ApiKey, str]:
    """A new key and its plaintext; validate `spec` first. The caller shows the plaintext once."""
    key_id = key_id or new_id()
    plaintext = f"{KEY_PREFIX}-{key_id}-{secrets.token_urlsafe(SECRET_BYTES)}"
    return _key(spec, key_id, now), plaintext


def adopt(spec: NewKey, now: datetime, plaintext: str) -> ApiKey:
    """A key for a plaintext chosen elsewhere (a development key from the environment); it must
    have the generated keys' shape and strength."""
    key_id = parse(plaintext)
    if key_id is None:
        raise ValueError("a given key must look like sb-<12 hex>-<at least 43 url-safe chars>")
    return _key(spec, key_id, now)


def _key(spec: NewKey, key_id: str, now: datetime) -> ApiKey:
    return ApiKey(
        id=key_id,
        tenant=spec.tenant,
        user=spec.user,
        tier=spec.tier,
        scopes=frozenset(spec.scopes),
        name=spec.name,
        created_at=now,
        expires_at=spec.expires_at,
    )


def parse(presented: str) -> str | None:
    """The key id of a well-formed plaintext; None for anything else. The secret may contain
    '-' (url-safe base64), so only the first two dashes split."""
    parts = presented.split("-", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    _, key_id, secret = parts
    if not _ID.match(key_id) or not _SECRET.match(secret):
        return None
    return key_id


__all__ = [
    "ID_HEX_CHARS",
    "KEY_PREFIX",
    "NAME_MAX",
    "SCOPES",
    "ApiKey",
    "KeyState",
    "NewKey",
    "Tenant",
    "adopt",
    "check_slug",
    "generate",
    "new_id",
    "parse",
    "validate_tenant",
]
