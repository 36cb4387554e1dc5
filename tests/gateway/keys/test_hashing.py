"""Keys are stored as a peppered HMAC; the pepper comes from a named secret."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gateway.keys.hashing import DEVELOPMENT_PEPPER, KeyHasher, PepperMissing, pepper_from

PLAINTEXT = "sb-0123456789ab-" + "s" * 43


class Secrets:
    def __init__(self, **values: str) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        return self._values.get(name)


def test_digest_is_hmac_sha256_of_the_whole_key_under_the_pepper() -> None:
    pepper = b"p" * 32
    expected = hmac.new(pepper, PLAINTEXT.encode(), hashlib.sha256).hexdigest()

    assert KeyHasher(pepper).digest(PLAINTEXT) == expected


def test_another_pepper_gives_another_digest() -> None:
    assert KeyHasher(b"a" * 32).digest(PLAINTEXT) != KeyHasher(b"b" * 32).digest(PLAINTEXT)


def test_the_digest_does_not_contain_the_secret() -> None:
    assert "s" * 8 not in KeyHasher(b"a" * 32).digest(PLAINTEXT)


def test_matching_compares_digests() -> None:
    digest = KeyHasher(b"a" * 32).digest(PLAINTEXT)

    assert KeyHasher.matches(digest, digest)
    assert not KeyHasher.matches(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1"))


def test_a_short_pepper_is_refused() -> None:
    with pytest.raises(PepperMissing):
        KeyHasher(b"p" * 31)


def test_the_named_secret_is_the_pepper() -> None:
    value = "q" * 40
    assert pepper_from(Secrets(MY_PEPPER=value), "MY_PEPPER", embedded=False) == value.encode()


def test_an_embedded_database_falls_back_to_the_development_pepper() -> None:
    assert pepper_from(Secrets(), "MY_PEPPER", embedded=True) == DEVELOPMENT_PEPPER
    KeyHasher(DEVELOPMENT_PEPPER)  # long enough to be used


def test_a_shared_database_without_a_pepper_fails_naming_the_secret() -> None:
    with pytest.raises(PepperMissing, match="MY_PEPPER"):
        pepper_from(Secrets(), "MY_PEPPER", embedded=False)
