"""How a key is stored: HMAC-SHA256 of the whole plaintext under a server-side pepper.

Why a fast keyed hash and not bcrypt/scrypt/Argon2: slow password hashes exist because
passwords have little entropy and a stolen hash can be guessed offline. Our secrets are 256
random bits: no guessing finishes, slow or fast, so a slow hash would only add tens of
milliseconds to every request (and invite a denial of service). The pepper, a secret kept out
of the database (named in the gateway's settings, `GATEWAY_KEY_PEPPER` by default), means a
copy of the database alone cannot even check a candidate key.

The hash covers the whole plaintext, id included, so a stored hash belongs to exactly one id,
and it is also the cache's key (`cache`). Digests are compared with `hmac.compare_digest`, in
constant time, so response timing says nothing about how much of a guess was right.

Rotating the pepper invalidates every key (there is one pepper, no version): unlike other
secrets, it is set once per installation. An embedded (SQLite) installation may run on a fixed
development pepper; a shared database must have its own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol

DEFAULT_PEPPER_SECRET_NAME = "GATEWAY_KEY_PEPPER"
DEVELOPMENT_PEPPER = b"switchboard-development-pepper-not-for-shared-databases"
MIN_PEPPER_BYTES = 32


class SecretSource(Protocol):
    """Where secrets come from (environment now, Vault later): a name to its value."""

    def get(self, name: str) -> str | None: ...


class PepperMissing(Exception):
    """No usable pepper for a shared database; the message names the secret, never its value."""


class KeyHasher:
    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < MIN_PEPPER_BYTES:
            raise PepperMissing(f"the key pepper must be at least {MIN_PEPPER_BYTES} bytes")
        self._pepper = pepper

    def digest(self, plaintext: str) -> str:
        """The stored form of a key: 64 hex characters."""
        return hmac.new(self._pepper, plaintext.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def matches(stored: str, computed: str) -> bool:
        return hmac.compare_digest(stored.encode(), computed.encode())


def pepper_from(secrets: SecretSource, name: str, *, embedded: bool) -> bytes:
    """The pepper named `name`; the development pepper when it is unset and the database is
    embedded (a laptop's SQLite file); `PepperMissing` when it is unset for a shared one."""
    value = secrets.get(name)
    if value:
        return value.encode()
    if embedded:
        return DEVELOPMENT_PEPPER
    raise PepperMissing(f"{name} must be set: API keys in a shared database need a pepper")


__all__ = [
    "DEFAULT_PEPPER_SECRET_NAME",
    "DEVELOPMENT_PEPPER",
    "MIN_PEPPER_BYTES",
    "KeyHasher",
    "PepperMissing",
    "SecretSource",
    "pepper_from",
]
