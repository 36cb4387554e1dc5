"""Where every service's secrets come from: HashiCorp Vault (KV v2) when configured, otherwise
the environment. One protocol, `SecretSource.get(name) -> str | None`, read at use time.

Configuration, read with `svckit.settings` under the service's prefix (`ROUTER_`, `GATEWAY_`...):

    <SERVICE>_VAULT_ADDR             Vault's URL; empty (the default) => environment only
    <SERVICE>_VAULT_AUTH             token | approle | kubernetes (default kubernetes)
    <SERVICE>_VAULT_MOUNT            the KV v2 engine's mount (default `secret`)
    <SERVICE>_VAULT_PATH             the secret holding this service's values
                                     (default `switchboard/<service>`)
    <SERVICE>_VAULT_NAMESPACE        Vault Enterprise namespace (default none)
    <SERVICE>_VAULT_CA_FILE          CA bundle for Vault's TLS (default: the system's)
    <SERVICE>_VAULT_TOKEN_FILE       token auth: file holding the token (Vault Agent's sink)
    <SERVICE>_VAULT_ROLE_ID_FILE     approle auth: file holding the role id
    <SERVICE>_VAULT_SECRET_ID_FILE   approle auth: file holding the secret id
    <SERVICE>_VAULT_APPROLE_MOUNT    approle auth mount (default `approle`)
    <SERVICE>_VAULT_ROLE             kubernetes auth: the Vault role bound to the ServiceAccount
    <SERVICE>_VAULT_JWT_FILE         kubernetes auth: the projected ServiceAccount token
    <SERVICE>_VAULT_KUBERNETES_MOUNT kubernetes auth mount (default `kubernetes`)
    <SERVICE>_VAULT_CACHE_SECONDS    how long values are served before Vault is read again (30)
    <SERVICE>_VAULT_RETRY_SECONDS    after a failed read, how long until the next attempt (5)
    <SERVICE>_VAULT_TIMEOUT_SECONDS  per HTTP request to Vault (5)

Decisions:
- One KV v2 secret per service; its keys are the names the service already asks for
  (`OPENAI_API_KEY`, `GATEWAY_KEY_PEPPER`...). A name the secret does not hold falls back to the
  environment, so a deployment can move secrets into Vault one at a time.
- Credentials are files, never variables: Vault Agent, the Kubernetes projected token and an
  AppRole's secret-id delivery all write files, and a file can rotate under a running process.
- Rotation without a restart: values are cached for `CACHE_SECONDS` and re-read on the first
  `get` after expiry, in the caller's thread (one HTTP request of a few milliseconds to a
  healthy Vault), so the first call after the TTL already sees a rotated value. A permanent
  refresher thread was rejected: a thread per process for one request every 30 s, and a
  rotation would reach calls up to one refresh late.
- The first read happens at construction and a failure there is fatal (`SecretsUnavailable`):
  a service configured for Vault must not start on whatever the environment holds. Later
  failures keep the last values (a Vault outage must not take the platform down), with a
  warning at each attempt. Only the first failing read blocks its caller (at most
  `TIMEOUT_SECONDS`); while Vault keeps failing, retries run every `RETRY_SECONDS` in a
  short-lived background thread, so a black-holed Vault never stalls an event loop again and
  again. The first success returns to reads in the caller's thread.
- Tokens: the lease from the login (or token lookup) is renewed once two thirds of it have
  passed; when renewal fails, is not allowed, or a read is refused (403), the source logs in
  again (re-reading the credential files) and retries once.
- A value never reaches a log, a metric or an error: messages name the secret's path, the
  auth method and the failure's type, nothing from a response body.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import hvac  # type: ignore[import-untyped]  # hvac ships no type information
import requests
from hvac import exceptions as vault_errors
from pydantic import BaseModel, ConfigDict, Field, model_validator

from svckit.settings import load_settings

log = logging.getLogger(__name__)

DEFAULT_JWT_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
# A token's lease is renewed once this share of it has passed.
RENEW_AFTER_SHARE = 2 / 3


class SecretSource(Protocol):
    def get(self, name: str) -> str | None:
        """The secret's current value, or None when it is not set."""
        ...


class SecretsUnavailable(Exception):
    """Vault could not be read at start-up; the message names where, never a value."""


class EnvironmentSecrets:
    """Secrets from environment variables: an empty variable counts as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def get(self, name: str) -> str | None:
        return self._environ.get(name) or None


class VaultSettings(BaseModel):
    """The `<SERVICE>_VAULT_*` variables (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vault_addr: str = ""
    vault_auth: Literal["token", "approle", "kubernetes"] = "kubernetes"
    vault_mount: str = "secret"
    vault_path: str = ""
    vault_namespace: str = ""
    vault_ca_file: str = ""
    vault_token_file: str = ""
    vault_role_id_file: str = ""
    vault_secret_id_file: str = ""
    vault_approle_mount: str = "approle"
    vault_role: str = ""
    vault_jwt_file: str = DEFAULT_JWT_FILE
    vault_kubernetes_mount: str = "kubernetes"
    vault_cache_seconds: float = Field(default=30.0, ge=0)
    vault_retry_seconds: float = Field(default=5.0, ge=0)
    vault_timeout_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _credentials_for_the_auth_method(self) -> VaultSettings:
        if not self.vault_addr:
            return self
        needed = {
            "token": ["vault_token_file"],
            "approle": ["vault_role_id_file", "vault_secret_id_file"],
            "kubernetes": ["vault_role", "vault_jwt_file"],
        }[self.vault_auth]
        missing = [field.upper() for field in needed if not getattr(self, field)]
        if missing:
            raise ValueError(f"{self.vault_auth} auth needs {', '.join(missing)}")
        return self


@dataclass(frozen=True)
class Lease:
    """How long the client's token lives; `seconds == 0` means it does not expire."""

    seconds: float
    renewable: bool


Login = Callable[[hvac.Client], Lease]


def _read_file(path: str) -> str:
    return Path(path).read_text().strip()


def _lease_of(auth: Mapping[str, Any]) -> Lease:
    return Lease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))


def token_login(token_file: str) -> Login:
    """Use the token in `token_file` (re-read at each login, so Vault Agent can rotate it)."""

    def login(client: hvac.Client) -> Lease:
        client.token = _read_file(token_file)
        data = client.auth.token.lookup_self()["data"]
        return Lease(float(data.get("ttl") or 0), bool(data.get("renewable")))

    return login


def approle_login(role_id_file: str, secret_id_file: str, mount: str) -> Login:
    def login(client: hvac.Client) -> Lease:
        response = client.auth.approle.login(
            role_id=_read_file(role_id_file),
            secret_id=_read_file(secret_id_file),
            mount_point=mount,
        )
        return _lease_of(response["auth"])

    return login


def kubernetes_login(role: str, jwt_file: str, mount: str) -> Login:
    def login(client: hvac.Client) -> Lease:
        response = client.auth.kubernetes.login(role, _read_file(jwt_file), mount_point=mount)
        return _lease_of(response["auth"])

    return login


def login_for(settings: VaultSettings) -> Login:
    if settings.vault_auth == "token":
        return token_login(settings.vault_token_file)
    if settings.vault_auth == "approle":
        return approle_login(
            settings.vault_role_id_file, settings.vault_secret_id_file, settings.vault_approle_mount
        )
    return kubernetes_login(
        settings.vault_role, settings.vault_jwt_file, settings.vault_kubernetes_mount
    )


# What a Vault call may raise: Vault's answers, the network, and missing credential files.
VAULT_FAILURES = (vault_errors.VaultError, requests.RequestException, OSError, KeyError)


def describe(exc: BaseException) -> str:
    """A failure without any response body: Vault's own error strings for Vault errors (they
    never carry secret data), the type only for everything else."""
    if isinstance(exc, vault_errors.VaultError) and exc.errors:
        return f"{type(exc).__name__}: {'; '.join(str(e) for e in exc.errors)}"
    return type(exc).__name__


class VaultToken:
    """The client's token: logs in, renews the lease before it ends, logs in again on refusal."""

    def __init__(self, client: hvac.Client, login: Login, clock: Callable[[], float]) -> None:
        self._client = client
        self._login = login
        self._clock = clock
        self._renew_at: float | None = None
        self._lease = Lease(0, False)
        self.logged_in = False

    def login(self) -> None:
        self._adopt(self._login(self._client))
        self.logged_in = True

    def ensure(self) -> None:
        """A usable token before a read: log in first, renew when the lease is running out."""
        if not self.logged_in:
            self.login()
        elif self._renew_at is not None and self._clock() >= self._renew_at:
            self._renew()

    def _renew(self) -> None:
        if self._lease.renewable:
            try:
                response = self._client.auth.token.renew_self()
                self._adopt(_lease_of(response["auth"]))
                return
            except VAULT_FAILURES as exc:
                log.warning("vault token renewal failed (%s); logging in again", describe(exc))
        self.login()

    def _adopt(self, lease: Lease) -> None:
        self._lease = lease
        self._renew_at = (
            None if lease.seconds <= 0 else self._clock() + lease.seconds * RENEW_AFTER_SHARE
        )


class VaultSecrets:
    """Values of one KV v2 secret, cached for `cache_seconds`; other names from `environ`."""

    def __init__(
        self,
        client: hvac.Client,
        login: Login,
        *,
        mount: str,
        path: str,
        environ: Mapping[str, str],
        cache_seconds: float = 30.0,
        retry_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._token = VaultToken(client, login, clock)
        self._mount = mount
        self._path = path
        self._environ = environ
        self._cache_seconds = cache_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._values: dict[str, str] = {}
        self._next_read = 0.0
        self._failing = False
        # One refresh at a time, whichever thread asks; held during Vault's HTTP calls but never
        # by a reader of the values (swapping the dict is atomic).
        self._refreshing = threading.Lock()
        self._background: threading.Thread | None = None

    @property
    def where(self) -> str:
        return f"{self._mount}/{self._path}"

    def load(self) -> None:
        """The first read; raises `SecretsUnavailable` when Vault cannot be read."""
        with self._refreshing:
            try:
                self._refresh()
            except VAULT_FAILURES as exc:
                raise SecretsUnavailable(
                    f"cannot read Vault secret {self.where}: {describe(exc)}"
                ) from None

    def get(self, name: str) -> str | None:
        values = self._current()
        if name in values:
            return values[name] or None
        return self._environ.get(name) or None

    def settle(self) -> None:
        """Wait for a background retry in flight (tests; an orderly shutdown)."""
        thread = self._background
        if thread is not None:
            thread.join()

    def _current(self) -> dict[str, str]:
        if self._clock() >= self._next_read:
            if self._failing:
                self._retry_in_background()
            else:
                with self._refreshing:
                    if self._clock() >= self._next_read:  # not refreshed while we waited
                        self._attempt()
        return self._values

    def _retry_in_background(self) -> None:
        """While Vault fails, retries must not block readers (a black-holed Vault would stall
        the event loop for a timeout at every retry): one thread per retry, none at once."""
        if not self._refreshing.acquire(blocking=False):
            return
        if self._clock() < self._next_read:
            self._refreshing.release()
            return
        self._background = threading.Thread(target=self._attempt_and_release, daemon=True)
        self._background.start()

    def _attempt_and_release(self) -> None:
        try:
            self._attempt()
        finally:
            self._refreshing.release()

    def _attempt(self) -> None:
        try:
            self._refresh()
            self._failing = False
        except VAULT_FAILURES as exc:
            self._failing = True
            self._next_read = self._clock() + self._retry_seconds
            log.warning(
                "vault secret %s not refreshed, serving the last values: %s",
                self.where,
                describe(exc),
            )

    def _refresh(self) -> None:
        self._token.ensure()
        try:
            data = self._read()
        except vault_errors.Forbidden:
            # The token was revoked or expired early: one fresh login, then one more try.
            self._token.login()
            data = self._read()
        self._values = data
        self._next_read = self._clock() + self._cache_seconds

    def _read(self) -> dict[str, str]:
        try:
            response = self._client.secrets.kv.v2.read_secret_version(
                path=self._path, mount_point=self._mount, raise_on_deleted_version=True
            )
        except vault_errors.InvalidPath:
            log.warning(
                "vault secret %s does not exist: every name comes from the environment", self.where
            )
            return {}
        data = response["data"]["data"] or {}
        texts = {str(key): _text(value) for key, value in data.items()}
        return {key: text for key, text in texts.items() if text is not None}


def _text(value: object) -> str | None:
    """KV values are JSON; secrets are strings, numbers are accepted as their text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def vault_client(settings: VaultSettings) -> hvac.Client:
    return hvac.Client(
        url=settings.vault_addr,
        namespace=settings.vault_namespace or None,
        verify=settings.vault_ca_file or True,
        timeout=settings.vault_timeout_seconds,
    )


def secrets_from_environment(
    service: str,
    environ: Mapping[str, str],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> SecretSource:
    """The service's secret source: Vault when `<SERVICE>_VAULT_ADDR` is set (read once here,
    `SecretsUnavailable` when that fails), otherwise the environment. Raises `SettingsError`
    for bad `<SERVICE>_VAULT_*` variables."""
    prefix = service.upper()
    settings = load_settings(VaultSettings, prefix, environ)
    if not settings.vault_addr:
        return EnvironmentSecrets(environ)
    source = VaultSecrets(
        vault_client(settings),
        login_for(settings),
        mount=settings.vault_mount,
        path=settings.vault_path or f"switchboard/{service.lower()}",
        environ=environ,
        cache_seconds=settings.vault_cache_seconds,
        retry_seconds=settings.vault_retry_seconds,
        clock=clock,
    )
    source.load()
    log.info(
        "secrets from vault %s (%s auth), cached %ss, other names from the environment",
        source.where,
        settings.vault_auth,
        settings.vault_cache_seconds,
    )
    return source


__all__ = [
    "EnvironmentSecrets",
    "Lease",
    "SecretSource",
    "SecretsUnavailable",
    "VaultSecrets",
    "VaultSettings",
    "approle_login",
    "kubernetes_login",
    "login_for",
    "secrets_from_environment",
    "token_login",
]
