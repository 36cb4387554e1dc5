"""`switchboard`: the platform team's tool for tenants and API keys.

    switchboard tenants create acme --name "Acme Corp"
    switchboard keys create --tenant acme --user u1 --tier pro --scopes inference \\
        --expires-in-days 90 --name "acme backend"
    switchboard keys list --tenant acme
    switchboard keys revoke 3f9a0c1b2d4e

It works on the gateway's database directly (it needs no running gateway, so it also
bootstraps the first platform key), migrating it first. Configuration comes from the
gateway's variables: `GATEWAY_DATABASE_URL` (empty: the SQLite file `GATEWAY_SQLITE_PATH`,
`.run/gateway.sqlite3` by default) and the pepper secret named by
`GATEWAY_KEY_PEPPER_SECRET_NAME` (`GATEWAY_KEY_PEPPER` by default).

`keys create` writes the new key alone on stdout, so `KEY=$(switchboard keys create ...)`
works, and what it is to stderr; the key is shown this once and never again. With `--json`
every command prints JSON instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from gateway.keys.hashing import (
    DEFAULT_PEPPER_SECRET_NAME,
    KeyHasher,
    PepperMissing,
    pepper_from,
)
from gateway.keys.model import ApiKey, NewKey, Tenant
from gateway.keys.store import KeyStore
from gateway.migrations import migrate
from svckit.errors import ServiceError
from svckit.secrets import secrets_from_environment
from svckit.sql import create_engine

DEFAULT_SQLITE_PATH = Path(".run/gateway.sqlite3")


def database_url(environ: Mapping[str, str]) -> str:
    """The gateway's database; an empty GATEWAY_DATABASE_URL selects the embedded SQLite."""
    url = environ.get("GATEWAY_DATABASE_URL", "")
    if url:
        return url
    path = Path(environ.get("GATEWAY_SQLITE_PATH") or DEFAULT_SQLITE_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def hasher(environ: Mapping[str, str], url: str) -> KeyHasher:
    name = environ.get("GATEWAY_KEY_PEPPER_SECRET_NAME") or DEFAULT_PEPPER_SECRET_NAME
    embedded = url.startswith("sqlite")
    return KeyHasher(
        pepper_from(secrets_from_environment("GATEWAY", environ), name, embedded=embedded)
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="switchboard", description="Switchboard's admin tool.")
    groups = root.add_subparsers(dest="group", required=True)
    _key_commands(groups.add_parser("keys", help="API keys"))
    _tenant_commands(groups.add_parser("tenants", help="tenants"))
    return root


def _command(commands: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A leaf command; each takes --json, wherever it is written."""
    command: argparse.ArgumentParser = commands.add_parser(name, help=help)
    command.add_argument("--json", action="store_true", help="print JSON")
    return command


def _key_commands(keys: argparse.ArgumentParser) -> None:
    commands = keys.add_subparsers(dest="command", required=True)
    create = _command(commands, "create", "create a key and print it, this once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--user", required=True)
    create.add_argument("--tier", required=True)
    create.add_argument(
        "--scopes", nargs="+", required=True, help="inference and/or admin (spaces or commas)"
    )
    create.add_argument("--expires-in-days", type=int, default=None)
    create.add_argument("--name", default="")
    listing = _command(commands, "list", "list keys (no secrets)")
    listing.add_argument("--tenant", default=None, help="one tenant (default: all)")
    show = _command(commands, "show", "show one key (no secret)")
    show.add_argument("key_id")
    revoke = _command(commands, "revoke", "revoke a key (idempotent)")
    revoke.add_argument("key_id")


def _tenant_commands(tenants: argparse.ArgumentParser) -> None:
    commands = tenants.add_subparsers(dest="command", required=True)
    create = _command(commands, "create", "create a tenant")
    create.add_argument("tenant_id")
    create.add_argument("--name", default="")
    create.add_argument("--exist-ok", action="store_true", help="succeed if it exists")
    _command(commands, "list", "list tenants")
    for verb in ("disable", "enable"):
        _command(commands, verb, f"{verb} a tenant's keys").add_argument("tenant_id")


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    args = parser().parse_args(argv)
    out = _Output(stdout or sys.stdout, stderr or sys.stderr, as_json=args.json)
    env = os.environ if environ is None else environ
    try:
        return asyncio.run(_run(args, env, out))
    except PepperMissing as exc:
        out.error(str(exc))
        return 2
    except ServiceError as exc:
        out.error(exc.message)
        return 1


async def _run(args: argparse.Namespace, environ: Mapping[str, str], out: _Output) -> int:
    url = database_url(environ)
    store = KeyStore(create_engine(url), hasher(environ, url))
    try:
        await migrate(url)
        await _dispatch(args, store, out)
    finally:
        await store.engine.dispose()
    return 0


async def _dispatch(args: argparse.Namespace, store: KeyStore, out: _Output) -> None:
    match (args.group, args.command):
        case ("keys", "create"):
            created = await store.create_key(_new_key(args, time.time()))
            out.created(created.key, created.plaintext)
        case ("keys", "list"):
            out.keys(await store.list_keys(args.tenant), store.now())
        case ("keys", "show"):
            out.keys([await store.get_key(args.key_id)], store.now())
        case ("keys", "revoke"):
            out.keys([await store.revoke_key(args.key_id)], store.now())
        case ("tenants", "create"):
            tenant = await store.create_tenant(args.tenant_id, args.name, exist_ok=args.exist_ok)
            out.tenants([tenant])
        case ("tenants", "list"):
            out.tenants(await store.list_tenants())
        case ("tenants", verb):
            out.tenants([await store.set_tenant_disabled(args.tenant_id, verb == "disable")])


def _new_key(args: argparse.Namespace, now: float) -> NewKey:
    scopes = frozenset(s for part in args.scopes for s in part.split(",") if s)
    expires_at = None
    if args.expires_in_days is not None:
        days = timedelta(days=args.expires_in_days)
        expires_at = datetime.fromtimestamp(now, UTC) + days
    return NewKey(args.tenant, args.user, args.tier, scopes, args.name, expires_at)


class _Output:
    def __init__(self, stdout: TextIO, stderr: TextIO, *, as_json: bool) -> None:
        self._out = stdout
        self._err = stderr
        self._json = as_json

    def error(self, message: str) -> None:
        print(f"error: {message}", file=self._err)

    def created(self, key: ApiKey, plaintext: str) -> None:
        if self._json:
            self._dump({"key": plaintext, **_key_fields(key, key.created_at)})
            return
        print(
            f"created {key.prefix} for tenant {key.tenant}, user {key.user}, tier {key.tier}, "
            f"scopes {_scopes(key)}; store it now: it is not shown again",
            file=self._err,
        )
        print(plaintext, file=self._out)

    def keys(self, keys: Sequence[ApiKey], now: datetime) -> None:
        rows = [_key_fields(key, now) for key in keys]
        if self._json:
            self._dump(rows)
            return
        columns = ("id", "tenant", "user", "tier", "scopes", "state", "expires_at", "name")
        self._table(columns, rows)

    def tenants(self, tenants: Sequence[Tenant]) -> None:
        rows = [_tenant_fields(tenant) for tenant in tenants]
        if self._json:
            self._dump(rows)
            return
        self._table(("id", "name", "disabled", "created_at"), rows)

    def _table(self, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
        cells = [list(columns)] + [
            [str(row[c] if row[c] is not None else "-") for c in columns] for row in rows
        ]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        for line in cells:
            print(
                "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip(),
                file=self._out,
            )

    def _dump(self, value: object) -> None:
        print(json.dumps(value, indent=2), file=self._out)


def _scopes(key: ApiKey) -> str:
    return ",".join(sorted(key.scopes))


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _key_fields(key: ApiKey, now: datetime) -> dict[str, Any]:
    return {
        "id": key.id,
        "prefix": key.prefix,
        "tenant": key.tenant,
        "user": key.user,
        "tier": key.tier,
        "scopes": _scopes(key),
        "name": key.name,
        "state": key.state(now).value,
        "created_at": _time(key.created_at),
        "expires_at": _time(key.expires_at),
        "revoked_at": _time(key.revoked_at),
    }


def _tenant_fields(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "disabled": tenant.disabled,
        "created_at": _time(tenant.created_at),
    }


if __name__ == "__main__":
    sys.exit(main())
