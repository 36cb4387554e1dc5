"""The secrets source against a Vault-API double over real HTTP: each auth method, KV v2 reads,
fallback to the environment, rotation through the cache, token renewal and expiry, and values
that never reach a log or an error."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from svckit.secrets import (
    EnvironmentSecrets,
    SecretsUnavailable,
    VaultSecrets,
    secrets_from_environment,
)
from svckit.settings import SettingsError
from tests.ports import free_port

from .conftest import MOUNT, PATH, Vault

VALUE = "sk-vault-value-7f3a"
ROTATED = "sk-vault-rotated-91c2"


def source(vault: Vault, environ: dict[str, str]) -> VaultSecrets:
    found = secrets_from_environment("demo", environ, clock=vault.clock)
    assert isinstance(found, VaultSecrets)
    return found


def test_without_an_address_secrets_come_from_the_environment() -> None:
    found = secrets_from_environment("demo", {"UP_KEY": "from-env", "EMPTY": ""})
    assert isinstance(found, EnvironmentSecrets)
    assert (found.get("UP_KEY"), found.get("EMPTY"), found.get("ABSENT")) == (
        "from-env",
        None,
        None,
    )


def test_token_auth_reads_the_kv2_secret_and_falls_back_to_the_environment(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE, "PORT_NUMBER": 8443})
    environ = vault.token_environ(UP_KEY="env-loses", ONLY_IN_ENV="env-wins")
    found = source(vault, environ)
    assert found.get("UP_KEY") == VALUE
    assert found.get("PORT_NUMBER") == "8443"
    assert found.get("ONLY_IN_ENV") == "env-wins"
    assert found.get("NOWHERE") is None
    assert vault.state.calls("/v1/auth/token/lookup-self") == 1
    assert vault.state.calls(f"/v1/{MOUNT}/data/{PATH}") == 1


def test_mount_and_path_are_configurable(vault: Vault) -> None:
    vault.state.put("kv", "teams/llm/router", {"UP_KEY": VALUE})
    environ = vault.token_environ(DEMO_VAULT_MOUNT="kv", DEMO_VAULT_PATH="teams/llm/router")
    assert source(vault, environ).get("UP_KEY") == VALUE


def test_approle_auth_logs_in_with_the_role_and_secret_id_files(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    vault.state.approles["role-123"] = "secret-456"
    environ = {
        "DEMO_VAULT_ADDR": vault.addr,
        "DEMO_VAULT_AUTH": "approle",
        "DEMO_VAULT_ROLE_ID_FILE": vault.file("role-id", "role-123"),
        "DEMO_VAULT_SECRET_ID_FILE": vault.file("secret-id", "secret-456"),
    }
    assert source(vault, environ).get("UP_KEY") == VALUE
    assert vault.state.calls("/v1/auth/approle/login") == 1


def test_kubernetes_auth_logs_in_with_the_service_account_token(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    vault.state.kubernetes_roles["switchboard-demo"] = "eyJ.service-account.jwt"
    environ = {
        "DEMO_VAULT_ADDR": vault.addr,
        "DEMO_VAULT_ROLE": "switchboard-demo",
        "DEMO_VAULT_JWT_FILE": vault.file("jwt", "eyJ.service-account.jwt"),
    }
    assert source(vault, environ).get("UP_KEY") == VALUE
    assert vault.state.calls("/v1/auth/kubernetes/login") == 1


def test_missing_credentials_for_the_auth_method_are_a_settings_error() -> None:
    with pytest.raises(SettingsError) as caught:
        secrets_from_environment(
            "demo", {"DEMO_VAULT_ADDR": "http://vault:8200", "DEMO_VAULT_AUTH": "approle"}
        )
    assert "VAULT_ROLE_ID_FILE" in str(caught.value)
    assert "VAULT_SECRET_ID_FILE" in str(caught.value)


def test_a_refused_login_stops_the_start_without_showing_the_credential(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.state.approles["role-123"] = "secret-456"
    environ = {
        "DEMO_VAULT_ADDR": vault.addr,
        "DEMO_VAULT_AUTH": "approle",
        "DEMO_VAULT_ROLE_ID_FILE": vault.file("role-id", "role-123"),
        "DEMO_VAULT_SECRET_ID_FILE": vault.file("secret-id", "wrong-secret-id-3e1d"),
    }
    with pytest.raises(SecretsUnavailable) as caught:
        secrets_from_environment("demo", environ, clock=vault.clock)
    assert "secret/switchboard/demo" in str(caught.value)
    assert "invalid role or secret ID" in str(caught.value)
    assert "wrong-secret-id-3e1d" not in str(caught.value) + caplog.text


def test_a_sealed_vault_stops_the_start(vault: Vault) -> None:
    vault.state.sealed = True
    with pytest.raises(SecretsUnavailable, match="VaultDown: Vault is sealed"):
        source(vault, vault.token_environ())


def test_an_unreachable_vault_stops_the_start(vault: Vault) -> None:
    environ = {**vault.token_environ(), "DEMO_VAULT_ADDR": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(SecretsUnavailable, match="ConnectionError"):
        source(vault, environ)


def test_values_that_are_not_text_are_left_to_the_environment(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"NESTED": {"a": 1}, "FLAG": True, "RATIO": 0.5})
    found = source(vault, vault.token_environ(NESTED="env-nested", FLAG="env-flag"))
    assert (found.get("NESTED"), found.get("FLAG"), found.get("RATIO")) == (
        "env-nested",
        "env-flag",
        "0.5",
    )


def test_a_rotated_value_is_served_after_the_cache_expires_without_a_restart(
    vault: Vault,
) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    found = source(vault, vault.token_environ(DEMO_VAULT_CACHE_SECONDS="30"))
    vault.state.put(MOUNT, PATH, {"UP_KEY": ROTATED})
    vault.clock.advance(29)
    cached = found.get("UP_KEY")
    vault.clock.advance(1)
    assert (cached, found.get("UP_KEY")) == (VALUE, ROTATED)
    assert vault.state.calls(f"/v1/{MOUNT}/data/{PATH}") == 2


def test_a_value_removed_from_vault_falls_back_to_the_environment(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    found = source(vault, vault.token_environ(UP_KEY="env-value"))
    vault.state.put(MOUNT, PATH, {})
    vault.clock.advance(30)
    assert found.get("UP_KEY") == "env-value"


def test_a_missing_secret_path_leaves_every_name_to_the_environment(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    found = source(vault, vault.token_environ(UP_KEY="env-value"))
    assert found.get("UP_KEY") == "env-value"
    assert "does not exist" in caplog.text


def test_during_an_outage_the_last_values_are_served_and_nothing_leaks(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    found = source(vault, vault.token_environ(DEMO_VAULT_RETRY_SECONDS="5"))
    vault.state.sealed = True
    vault.clock.advance(30)
    during = [found.get("UP_KEY"), found.get("UP_KEY")]
    attempts = vault.state.calls(f"/v1/{MOUNT}/data/{PATH}")
    vault.state.sealed = False
    vault.state.put(MOUNT, PATH, {"UP_KEY": ROTATED})
    vault.clock.advance(5)
    vault.state.gate = threading.Event()  # Vault answers only once the read has returned
    while_retrying = found.get("UP_KEY")  # the retry runs in the background: no wait here
    vault.state.gate.set()
    found.settle()
    assert during == [VALUE, VALUE]
    assert attempts == 2  # the second get within the retry interval did not call Vault
    assert while_retrying == VALUE
    assert found.get("UP_KEY") == ROTATED
    assert "not refreshed" in caplog.text
    assert VALUE not in caplog.text
    assert ROTATED not in caplog.text


def test_a_renewable_lease_is_renewed_before_it_ends(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    vault.state.approles["role"] = "secret"
    vault.state.login_ttl = 60
    environ = {
        "DEMO_VAULT_ADDR": vault.addr,
        "DEMO_VAULT_AUTH": "approle",
        "DEMO_VAULT_ROLE_ID_FILE": vault.file("role-id", "role"),
        "DEMO_VAULT_SECRET_ID_FILE": vault.file("secret-id", "secret"),
    }
    found = source(vault, environ)
    for _ in range(4):  # 4 x 40 s: well past the first lease's 60 s
        vault.clock.advance(40)
        assert found.get("UP_KEY") == VALUE
    assert vault.state.calls("/v1/auth/token/renew-self") == 4
    assert vault.state.calls("/v1/auth/approle/login") == 1


def test_a_lease_that_cannot_be_renewed_is_replaced_by_a_new_login(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    vault.state.kubernetes_roles["demo"] = "jwt"
    vault.state.login_ttl = 60
    vault.state.login_renewable = False
    environ = {
        "DEMO_VAULT_ADDR": vault.addr,
        "DEMO_VAULT_ROLE": "demo",
        "DEMO_VAULT_JWT_FILE": vault.file("jwt", "jwt"),
    }
    found = source(vault, environ)
    vault.clock.advance(45)
    assert found.get("UP_KEY") == VALUE
    assert vault.state.calls("/v1/auth/token/renew-self") == 0
    assert vault.state.calls("/v1/auth/kubernetes/login") == 2


def test_a_failed_renewal_falls_back_to_a_new_login(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    vault.state.kubernetes_roles["demo"] = "jwt"
    environ = {
        "DEMO_VAULT_ADDR": vault.addr,
        "DEMO_VAULT_ROLE": "demo",
        "DEMO_VAULT_JWT_FILE": vault.file("jwt", "jwt"),
    }
    found = source(vault, environ)
    vault.state.tokens.clear()  # revoked behind our back: renew-self is refused
    vault.clock.advance(45)
    assert found.get("UP_KEY") == VALUE
    assert "renewal failed (Forbidden" in caplog.text
    assert vault.state.calls("/v1/auth/kubernetes/login") == 2


def test_a_read_refused_for_a_revoked_token_logs_in_again_and_reads(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    environ = vault.token_environ()
    found = source(vault, environ)
    vault.state.tokens.clear()
    # Vault Agent wrote a fresh token to the sink file: the next login re-reads it.
    vault.file("token", vault.state.issue_token(0, renewable=False))
    vault.state.put(MOUNT, PATH, {"UP_KEY": ROTATED})
    vault.clock.advance(30)
    assert found.get("UP_KEY") == ROTATED
    assert vault.state.calls("/v1/auth/token/lookup-self") == 2


def test_an_expired_token_without_a_replacement_keeps_the_last_values(
    vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    token = vault.state.issue_token(60, renewable=False)
    environ = {
        "DEMO_VAULT_ADDR": vault.addr,
        "DEMO_VAULT_AUTH": "token",
        "DEMO_VAULT_TOKEN_FILE": vault.file("token", token),
    }
    found = source(vault, environ)
    vault.clock.advance(61)
    assert found.get("UP_KEY") == VALUE
    assert "Forbidden: permission denied" in caplog.text
    assert VALUE not in caplog.text
    assert token not in caplog.text


def test_readers_in_many_threads_share_one_refresh(vault: Vault) -> None:
    vault.state.put(MOUNT, PATH, {"UP_KEY": VALUE})
    found = source(vault, vault.token_environ())
    vault.state.put(MOUNT, PATH, {"UP_KEY": ROTATED})
    vault.clock.advance(30)
    vault.state.gate = threading.Event()
    with ThreadPoolExecutor(max_workers=6) as pool:
        reads = [pool.submit(found.get, "UP_KEY") for _ in range(6)]
        vault.state.gate.set()
        values = {read.result() for read in reads}
    assert values == {ROTATED}
    assert vault.state.calls(f"/v1/{MOUNT}/data/{PATH}") == 2
