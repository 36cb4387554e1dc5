"""Tenants and API keys in SQL (SQLite embedded, PostgreSQL shared), and key authentication.

One implementation serves both databases: the statements are portable Core, and the behaviour
suite runs against both. What it promises:

- A key's plaintext leaves `create_key` once and is never stored or returned again; reads
  return `ApiKey`, which has neither plaintext nor hash.
- Every read and revocation of a key can be confined to one tenant (`tenant=`): a key of
  another tenant is then NOT_FOUND, exactly like a key that does not exist, so ids of other
  tenants' keys cannot be probed. `scoping.tenant_filter` decides what to pass.
- `revoke_key` is idempotent and safe under concurrency: one conditional UPDATE sets
  `revoked_at` once, and every concurrent caller gets that same first time back.
- `authenticate` says "invalid API key" alike for a malformed key, an unknown id and a wrong
  secret, so it reveals no key ids. Only a caller holding the right secret learns that the key
  was revoked or expired, or that its tenant is disabled. No message contains the key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from gateway.keys import model
from gateway.keys.hashing import KeyHasher
from gateway.keys.model import ApiKey, KeyState, NewKey, Tenant
from gateway.keys.tables import api_keys, tenants
from svckit.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

ID_ATTEMPTS = 4
"""Fresh ids tried when a random 48-bit id is taken (rare, but certain at scale)."""

INVALID_KEY = "invalid API key"


@dataclass(frozen=True)
class Credential:
    """A presented key, parsed and hashed; the plaintext itself goes no further."""

    key_id: str
    digest: str


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    plaintext: str
    """Show it to its owner once; it cannot be recovered."""


class KeyStore:
    def __init__(
        self,
        engine: AsyncEngine,
        hasher: KeyHasher,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = model.new_id,
    ) -> None:
        self.engine = engine
        self._hasher = hasher
        self._clock = clock
        self._new_id = new_id

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # Tenants

    async def create_tenant(
        self, tenant_id: str, name: str = "", *, exist_ok: bool = False
    ) -> Tenant:
        model.validate_tenant(tenant_id, name)
        tenant = Tenant(id=tenant_id, name=name or tenant_id, created_at=self.now())
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(tenants).values(_tenant_row(tenant)))
        except IntegrityError:
            if exist_ok:
                return await self.get_tenant(tenant_id)
            raise AlreadyExists(f"tenant {tenant_id!r} already exists") from None
        return tenant

    async def get_tenant(self, tenant_id: str) -> Tenant:
        if not model.is_slug(tenant_id):
            raise NotFound(f"tenant {tenant_id!r} not found")
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
        if row is None:
            raise NotFound(f"tenant {tenant_id!r} not found")
        return _tenant(row)

    async def list_tenants(self) -> list[Tenant]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(tenants).order_by(tenants.c.id))).all()
        return [_tenant(row) for row in rows]

    async def set_tenant_disabled(self, tenant_id: str, disabled: bool) -> Tenant:
        """Disabling stops every key of the tenant without revoking them; enabling restores."""
        if not model.is_slug(tenant_id):
            raise NotFound(f"tenant {tenant_id!r} not found")
        async with self.engine.begin() as conn:
            statement = update(tenants).where(tenants.c.id == tenant_id)
            await conn.execute(statement.values(disabled=disabled))
        return await self.get_tenant(tenant_id)

    # Keys

    async def create_key(self, spec: NewKey, *, plaintext: str | None = None) -> CreatedKey:
        """A new key of an existing, enabled tenant. `plaintext` adopts a key chosen elsewhere
        (the development key of `make run`); normally the store generates it."""
        now = self.now()
        spec.validate(now)
        tenant = await self.get_tenant(spec.tenant)
        if tenant.disabled:
            raise FailedPrecondition(f"tenant {tenant.id!r} is disabled", reason="TENANT_DISABLED")
        if plaintext is not None:
            key = model.adopt(spec, now, plaintext)
            if not await self._insert(key, plaintext):
                raise AlreadyExists("an API key with this id already exists")
            return CreatedKey(key, plaintext)
        for _ in range(ID_ATTEMPTS):
            key, text = model.generate(spec, now, self._new_id())
            if await self._insert(key, text):
                return CreatedKey(key, text)
        raise AlreadyExists("could not find a free API key id; try again")

    async def _insert(self, key: ApiKey, plaintext: str) -> bool:
        """False when the id is taken (the only unique column a new key can clash on)."""
        row = _key_row(key) | {"hash": self._hasher.digest(plaintext)}
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(api_keys).values(row))
        except IntegrityError:
            return False
        return True

    async def get_key(self, key_id: str, *, tenant: str | None = None) -> ApiKey:
        """The key `key_id`; with `tenant`, only if it belongs to that tenant."""
        if not _can_exist(key_id, tenant):
            raise NotFound("API key not found")
        async with self.engine.connect() as conn:
            row = (await conn.execute(_select_keys(tenant).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound("API key not found")
        return _key(row)

    async def list_keys(self, tenant: str | None) -> list[ApiKey]:
        """The keys of `tenant` (None: of every tenant), oldest first, revoked ones included."""
        if tenant is not None and not model.is_slug(tenant):
            return []  # no tenant has that name (and PostgreSQL refuses some such strings)
        query = _select_keys(tenant).order_by(api_keys.c.created_at, api_keys.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_key(row) for row in rows]

    async def revoke_key(self, key_id: str, *, tenant: str | None = None) -> ApiKey:
        """Revokes the key (idempotent: a second revocation keeps the first time). The UPDATE
        comes first so SQLite takes its write lock before reading, as PostgreSQL's row lock
        makes concurrent revocations wait and then find the key revoked."""
        if not _can_exist(key_id, tenant):
            raise NotFound("API key not found")
        confined = _confine(tenant)
        statement = (
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None), *confined)
            .values(revoked_at=self.now())
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)
            row = (await conn.execute(_select_keys(tenant).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound("API key not found")
        return _key(row)

    # Authentication

    def credential(self, presented: str) -> Credential:
        """Parses and hashes a presented key; malformed ones fail like unknown ones."""
        key_id = model.parse(presented)
        if key_id is None:
            raise Unauthenticated(INVALID_KEY, reason="INVALID_API_KEY")
        return Credential(key_id, self._hasher.digest(presented))

    async def authenticate(self, presented: str) -> ApiKey:
        return await self.verify(self.credential(presented))

    async def verify(self, credential: Credential) -> ApiKey:
        """The key behind `credential` if it may be used now; otherwise Unauthenticated (or
        PermissionDenied for a disabled tenant)."""
        query = (
            select(api_keys, tenants.c.disabled)
            .join(tenants, tenants.c.id == api_keys.c.tenant_id)
            .where(api_keys.c.id == credential.key_id)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None or not KeyHasher.matches(row.hash, credential.digest):
            raise Unauthenticated(INVALID_KEY, reason="INVALID_API_KEY")
        key = _key(row)
        _check_usable(key, self.now(), disabled=bool(row.disabled))
        return key


def _check_usable(key: ApiKey, now: datetime, *, disabled: bool) -> None:
    state = key.state(now)
    if state is KeyState.REVOKED:
        raise Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
    if state is KeyState.EXPIRED:
        raise Unauthenticated("API key expired", reason="API_KEY_EXPIRED")
    if disabled:
        raise PermissionDenied("tenant disabled", reason="TENANT_DISABLED")


def _can_exist(key_id: str, tenant: str | None) -> bool:
    """Whether a key could have this id (and tenant): any other string is NOT_FOUND without a
    query, as PostgreSQL refuses some of them (a NUL byte) with an error of its own."""
    return model.is_key_id(key_id) and (tenant is None or model.is_slug(tenant))


def _confine(tenant: str | None) -> Sequence[ColumnElement[bool]]:
    return [] if tenant is None else [api_keys.c.tenant_id == tenant]


def _select_keys(tenant: str | None) -> Select[Any]:
    """Every column but the hash: nothing that leaves the store can carry it."""
    columns = [column for column in api_keys.c if column.name != "hash"]
    return select(*columns).where(*_confine(tenant))


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time here is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _optional_utc(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _tenant_row(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "created_at": tenant.created_at,
        "disabled": tenant.disabled,
    }


def _tenant(row: Row[Any]) -> Tenant:
    return Tenant(
        id=row.id, name=row.name, created_at=_utc(row.created_at), disabled=bool(row.disabled)
    )


def _key_row(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "tenant_id": key.tenant,
        "user": key.user,
        "tier": key.tier,
        "scopes": " ".join(sorted(key.scopes)),
        "name": key.name,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
    }


def _key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        tenant=row.tenant_id,
        user=row.user,
        tier=row.tier,
        scopes=frozenset(row.scopes.split()),
        name=row.name,
        created_at=_utc(row.created_at),
        expires_at=_optional_utc(row.expires_at),
        revoked_at=_optional_utc(row.revoked_at),
    )


__all__ = ["INVALID_KEY", "CreatedKey", "Credential", "KeyStore"]
