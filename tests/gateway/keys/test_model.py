"""A key's shape: its plaintext format, validation of what is asked for, and its states."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.keys.model import (
    ApiKey,
    KeyState,
    NewKey,
    adopt,
    generate,
    parse,
    validate_tenant,
)
from svckit.errors import InvalidArgument

NOW = datetime(2025, 1, 6, 12, tzinfo=UTC)
SPEC = NewKey(tenant="acme", user="u1", tier="pro", scopes=frozenset({"inference"}), name="app")


def fields_of(error: InvalidArgument) -> set[str]:
    return {violation.field for violation in error.violations}


def test_generated_plaintext_names_the_key_and_carries_256_random_bits() -> None:
    key, plaintext = generate(SPEC, NOW)

    prefix, key_id, secret = plaintext.split("-", 2)
    assert (prefix, key_id) == ("sb", key.id)
    assert re.fullmatch("[0-9a-f]{12}", key.id)
    assert len(secret) >= 43  # 32 bytes in url-safe base64
    assert parse(plaintext) == key.id
    assert key.prefix == f"sb-{key.id}"


def test_every_generated_key_is_different() -> None:
    plaintexts = {generate(SPEC, NOW)[1] for _ in range(200)}
    assert len(plaintexts) == 200


def test_generated_key_carries_what_was_asked_for() -> None:
    expires = NOW + timedelta(days=90)
    key, _ = generate(replace(SPEC, expires_at=expires), NOW, key_id="0123456789ab")

    assert key == ApiKey(
        id="0123456789ab",
        tenant="acme",
        user="u1",
        tier="pro",
        scopes=frozenset({"inference"}),
        name="app",
        created_at=NOW,
        expires_at=expires,
    )


def test_the_key_carries_no_secret_part() -> None:
    key, plaintext = generate(SPEC, NOW)
    secret = plaintext.split("-", 2)[2]

    assert secret not in repr(key)
    assert not hasattr(key, "hash")
    assert not hasattr(key, "plaintext")


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "sb-",
        "Bearer sb-0123456789ab-" + "a" * 43,
        "sk-0123456789ab-" + "a" * 43,
        "sb-0123456789AB-" + "a" * 43,
        "sb-0123456789a-" + "a" * 43,
        "sb-0123456789ab-" + "a" * 42,
        "sb-0123456789ab-" + "a" * 42 + "!",
        "sb-0123456789ab",
    ],
)
def test_malformed_plaintexts_do_not_parse(presented: str) -> None:
    assert parse(presented) is None


def test_a_secret_may_contain_dashes() -> None:
    assert parse("sb-0123456789ab-" + "-_" * 22) == "0123456789ab"


def test_a_valid_request_passes() -> None:
    SPEC.validate(NOW)
    replace(SPEC, scopes=frozenset({"inference", "admin"}), expires_at=NOW + timedelta(1)).validate(
        NOW
    )


def test_every_bad_field_is_reported_at_once() -> None:
    bad = NewKey(tenant="Acme Corp", user="", tier="", scopes=frozenset({"root"}), name="x" * 201)

    with pytest.raises(InvalidArgument) as raised:
        bad.validate(NOW)

    assert fields_of(raised.value) == {"tenant", "user", "tier", "scopes", "name"}
    assert "root" in raised.value.message


def test_a_key_needs_a_scope() -> None:
    with pytest.raises(InvalidArgument) as raised:
        replace(SPEC, scopes=frozenset()).validate(NOW)
    assert fields_of(raised.value) == {"scopes"}


def test_a_user_with_surrounding_spaces_is_refused() -> None:
    with pytest.raises(InvalidArgument) as raised:
        replace(SPEC, user=" u1").validate(NOW)
    assert fields_of(raised.value) == {"user"}


@pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(seconds=1), datetime(2030, 1, 1)])
def test_expiry_must_be_a_future_time_with_a_zone(expires_at: datetime) -> None:
    with pytest.raises(InvalidArgument) as raised:
        replace(SPEC, expires_at=expires_at).validate(NOW)
    assert fields_of(raised.value) == {"expires_at"}


def test_states_follow_revocation_then_expiry() -> None:
    key, _ = generate(replace(SPEC, expires_at=NOW + timedelta(hours=1)), NOW)

    assert key.state(NOW) is KeyState.ACTIVE
    assert key.state(NOW + timedelta(hours=1)) is KeyState.EXPIRED
    assert replace(key, revoked_at=NOW).state(NOW) is KeyState.REVOKED


def test_a_key_without_expiry_stays_active() -> None:
    key, _ = generate(SPEC, NOW)
    assert key.state(NOW + timedelta(days=3650)) is KeyState.ACTIVE


def test_a_well_formed_given_plaintext_is_adopted() -> None:
    plaintext = "sb-0123456789ab-" + "k" * 43
    assert adopt(SPEC, NOW, plaintext).id == "0123456789ab"


def test_a_weak_given_plaintext_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="must look like") as raised:
        adopt(SPEC, NOW, "sb-0123456789ab-short")
    assert "short" not in str(raised.value)


def test_tenant_ids_are_slugs() -> None:
    validate_tenant("acme-eu.1", "Acme")
    with pytest.raises(InvalidArgument) as raised:
        validate_tenant("-acme", "n" * 201)
    assert fields_of(raised.value) == {"id", "name"}
