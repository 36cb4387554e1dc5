"""The `switchboard` tool, run in-process and as a process against a temporary database."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.keys.cli import main
from gateway.keys.hashing import DEVELOPMENT_PEPPER, KeyHasher
from gateway.keys.model import ApiKey
from gateway.keys.store import KeyStore
from svckit.errors import Unauthenticated
from svckit.sql import create_engine

REPO = Path(__file__).resolve().parents[3]
PEPPER = "cli-test-pepper-" + "z" * 32


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run(environ: Mapping[str, str], *argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=environ, stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def authenticate(url: str, pepper: bytes, plaintext: str) -> ApiKey:
    async def go() -> ApiKey:
        store = KeyStore(create_engine(url), KeyHasher(pepper))
        try:
            return await store.authenticate(plaintext)
        finally:
            await store.engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "gateway.sqlite3"


@pytest.fixture
def env(sqlite_path: Path) -> dict[str, str]:
    """An embedded database with no pepper set: the development pepper applies."""
    return {"GATEWAY_SQLITE_PATH": str(sqlite_path)}


@pytest.fixture
def url(sqlite_path: Path) -> str:
    return f"sqlite+aiosqlite:///{sqlite_path}"


@pytest.fixture
def acme(env: dict[str, str]) -> None:
    assert run(env, "tenants", "create", "acme", "--name", "Acme Corp").code == 0


def create_key(env: Mapping[str, str], *extra: str) -> Run:
    base = ("keys", "create", "--tenant", "acme", "--user", "u1", "--tier", "pro")
    return run(env, *base, "--scopes", "inference", *extra)


@pytest.mark.usefixtures("acme")
def test_create_prints_the_key_exactly_once_and_it_authenticates(
    env: dict[str, str], url: str
) -> None:
    created = create_key(env, "--name", "backend")

    assert created.code == 0
    plaintext = created.out.strip()
    assert (created.out + created.err).count(plaintext) == 1
    assert "not shown again" in created.err
    key = authenticate(url, DEVELOPMENT_PEPPER, plaintext)
    assert (key.tenant, key.user, key.tier, key.name) == ("acme", "u1", "pro", "backend")
    assert key.scopes == {"inference"}


@pytest.mark.usefixtures("acme")
def test_no_other_command_ever_prints_the_key(env: dict[str, str]) -> None:
    plaintext = create_key(env).out.strip()
    key_id = plaintext.split("-")[1]

    outputs = [
        run(env, "keys", "list"),
        run(env, "keys", "list", "--tenant", "acme", "--json"),
        run(env, "keys", "show", key_id),
        run(env, "keys", "revoke", key_id, "--json"),
    ]

    secret = plaintext.split("-", 2)[2]
    assert all(o.code == 0 and key_id in o.out for o in outputs)
    assert not any(secret in o.out + o.err for o in outputs)


@pytest.mark.usefixtures("acme")
def test_a_revoked_key_no_longer_authenticates(env: dict[str, str], url: str) -> None:
    plaintext = create_key(env).out.strip()
    key_id = plaintext.split("-")[1]

    revoked = run(env, "keys", "revoke", key_id)

    assert revoked.code == 0
    assert "revoked" in revoked.out
    with pytest.raises(Unauthenticated, match="revoked"):
        authenticate(url, DEVELOPMENT_PEPPER, plaintext)


@pytest.mark.usefixtures("acme")
def test_json_create_gives_the_key_and_its_fields(env: dict[str, str]) -> None:
    created = create_key(env, "--expires-in-days", "90", "--json")

    body = json.loads(created.out)
    assert body["key"].startswith(f"sb-{body['id']}-")
    assert body["state"] == "active"
    expiry = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])
    assert expiry == timedelta(days=90)


@pytest.mark.usefixtures("acme")
def test_scopes_may_be_given_with_commas_or_spaces(env: dict[str, str], url: str) -> None:
    base = ("keys", "create", "--tenant", "acme", "--user", "u1", "--tier", "pro")
    commas = run(env, *base, "--scopes", "inference,admin").out.strip()
    spaces = run(env, *base, "--scopes", "admin", "inference").out.strip()

    for plaintext in (commas, spaces):
        assert authenticate(url, DEVELOPMENT_PEPPER, plaintext).scopes == {"inference", "admin"}


def test_tenants_are_created_listed_disabled_and_enabled(env: dict[str, str]) -> None:
    assert run(env, "tenants", "create", "acme").code == 0
    assert run(env, "tenants", "create", "acme", "--exist-ok").code == 0

    disabled = json.loads(run(env, "tenants", "disable", "acme", "--json").out)
    enabled = json.loads(run(env, "tenants", "enable", "acme", "--json").out)
    listed = run(env, "tenants", "list")

    assert [t["disabled"] for t in disabled + enabled] == [True, False]
    assert listed.out.splitlines()[0].split() == ["id", "name", "disabled", "created_at"]
    assert listed.out.splitlines()[1].startswith("acme")


def test_a_tenant_exists_once(env: dict[str, str]) -> None:
    run(env, "tenants", "create", "acme")

    again = run(env, "tenants", "create", "acme")

    assert again.code == 1
    assert "already exists" in again.err


def test_a_key_for_an_unknown_tenant_fails_with_the_reason(env: dict[str, str]) -> None:
    failed = create_key(env)

    assert failed.code == 1
    assert failed.out == ""
    assert failed.err == "error: tenant 'acme' not found\n"


@pytest.mark.usefixtures("acme")
def test_every_bad_field_is_named(env: dict[str, str]) -> None:
    base = ("keys", "create", "--tenant", "acme", "--user", "u1", "--tier", "Pro Tier")
    failed = run(env, *base, "--scopes", "root", "--expires-in-days", "0")

    assert failed.code == 1
    for field in ("tier:", "scopes:", "expires_at:"):
        assert field in failed.err


def test_a_shared_database_needs_a_pepper() -> None:
    shared = {"GATEWAY_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}

    failed = run(shared, "tenants", "list")

    assert failed.code == 2
    assert "GATEWAY_KEY_PEPPER must be set" in failed.err


def test_without_a_path_the_database_is_under_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert run({}, "tenants", "create", "acme").code == 0

    assert (tmp_path / ".run" / "gateway.sqlite3").exists()


async def test_works_on_postgresql_with_a_named_pepper(postgres_url: str) -> None:
    env = {
        "GATEWAY_DATABASE_URL": postgres_url,
        "GATEWAY_KEY_PEPPER_SECRET_NAME": "MY_PEPPER",
        "MY_PEPPER": PEPPER,
    }
    assert (await asyncio.to_thread(run, env, "tenants", "create", "acme")).code == 0

    created = await asyncio.to_thread(create_key, env)

    store = KeyStore(create_engine(postgres_url), KeyHasher(PEPPER.encode()))
    try:
        assert (await store.authenticate(created.out.strip())).tenant == "acme"
    finally:
        await store.engine.dispose()


def test_runs_as_a_module(tmp_path: Path, env: dict[str, str], url: str) -> None:
    environ = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    for inherited in (
        "GATEWAY_DATABASE_URL",
        "GATEWAY_KEY_PEPPER",
        "GATEWAY_KEY_PEPPER_SECRET_NAME",
    ):
        environ.pop(inherited, None)

    def tool(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "gateway.keys.cli", *argv]
        return subprocess.run(
            command, env=environ, cwd=tmp_path, capture_output=True, text=True, check=True
        )

    tool("tenants", "create", "acme")
    base = ("keys", "create", "--tenant", "acme", "--user", "u1", "--tier", "pro")
    created = tool(*base, "--scopes", "inference")

    plaintext = created.stdout.strip()
    assert (created.stdout + created.stderr).count(plaintext) == 1
    assert authenticate(url, DEVELOPMENT_PEPPER, plaintext).tenant == "acme"
