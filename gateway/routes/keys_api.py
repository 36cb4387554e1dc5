"""The gateway's own admin routes: tenants and API keys (hand-written: they are no service's
RPCs), under `/admin/v1/tenants` and `/admin/v1/keys`, for keys with the `admin` scope.

    POST /admin/v1/tenants                      {"id", "name"}          platform only
    GET  /admin/v1/tenants                      platform: all; others: their own
    POST /admin/v1/tenants/{id}:disable|:enable                         platform only
    POST /admin/v1/keys                         {"tenant", "user", "tier", "scopes", "name",
                                                 "expires_at"}  -> the key, shown this once
    GET  /admin/v1/keys[?tenant=]               no secrets
    GET  /admin/v1/keys/{id}
    POST /admin/v1/keys/{id}:revoke             idempotent

Confinement (`gateway.keys.scoping`): a tenant's admin key sees and manages its own tenant's
keys only (another tenant's key is NOT_FOUND). It creates keys of its own tenant and its own
tier: a tier is what the tenant's plan allows, and a tenant must not grant itself a bigger one.
A revocation here takes effect at once on this replica (and within the key cache's TTL on the
others); disabling a tenant clears this replica's cache.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.keys.cache import CachedKeyLookup
from gateway.keys.model import ApiKey, NewKey, Tenant
from gateway.keys.scoping import (
    ADMIN,
    is_platform_admin,
    require_platform_admin,
    tenant_filter,
)
from gateway.keys.store import KeyStore
from gateway.pipeline.auth import Authenticator
from gateway.routes.admin_api import admin_error
from svckit.errors import InvalidArgument, PermissionDenied, ServiceError

Json = dict[str, Any]
Handler = Callable[[Request, ApiKey], Awaitable[Json | list[Json]]]


class KeysApi:
    def __init__(self, auth: Authenticator, store: KeyStore, lookup: CachedKeyLookup) -> None:
        self._auth = auth
        self._store = store
        self._lookup = lookup

    def routes(self) -> list[Route]:
        return [
            Route("/v1/tenants", self._endpoint(self.create_tenant), methods=["POST"]),
            Route("/v1/tenants", self._endpoint(self.list_tenants), methods=["GET"]),
            Route(
                "/v1/tenants/{tenant_id}:disable", self._endpoint(self.disable), methods=["POST"]
            ),
            Route("/v1/tenants/{tenant_id}:enable", self._endpoint(self.enable), methods=["POST"]),
            Route("/v1/keys", self._endpoint(self.create_key), methods=["POST"]),
            Route("/v1/keys", self._endpoint(self.list_keys), methods=["GET"]),
            Route("/v1/keys/{key_id}:revoke", self._endpoint(self.revoke), methods=["POST"]),
            Route("/v1/keys/{key_id}", self._endpoint(self.get_key), methods=["GET"]),
        ]

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                key = await self._auth.identify(request.headers, ADMIN)
                return JSONResponse(await handler(request, key))
            except ServiceError as error:
                return admin_error(error)

        return endpoint

    async def create_tenant(self, request: Request, key: ApiKey) -> Json:
        require_platform_admin(key)
        body = await _object(request)
        tenant = await self._store.create_tenant(_text(body, "id"), _text(body, "name", ""))
        return tenant_json(tenant)

    async def list_tenants(self, request: Request, key: ApiKey) -> list[Json]:
        if is_platform_admin(key):
            return [tenant_json(t) for t in await self._store.list_tenants()]
        return [tenant_json(await self._store.get_tenant(key.tenant))]

    async def disable(self, request: Request, key: ApiKey) -> Json:
        return await self._set_disabled(request, key, True)

    async def enable(self, request: Request, key: ApiKey) -> Json:
        return await self._set_disabled(request, key, False)

    async def _set_disabled(self, request: Request, key: ApiKey, disabled: bool) -> Json:
        require_platform_admin(key)
        tenant_id = request.path_params["tenant_id"]
        await self._store.get_tenant(tenant_id)  # NOT_FOUND for an unknown tenant
        tenant = await self._store.set_tenant_disabled(tenant_id, disabled)
        self._lookup.clear()
        return tenant_json(tenant)

    async def create_key(self, request: Request, key: ApiKey) -> Json:
        body = await _object(request)
        tenant = tenant_filter(key, _text(body, "tenant", "") or None)
        if tenant is None:
            raise InvalidArgument.field("tenant", "is required")
        tier = _text(body, "tier", "" if is_platform_admin(key) else key.tier)
        if not is_platform_admin(key) and tier != key.tier:
            raise PermissionDenied(
                f"keys of this tenant are created in its tier {key.tier!r}", reason="OTHER_TIER"
            )
        spec = NewKey(
            tenant=tenant,
            user=_text(body, "user"),
            tier=tier,
            scopes=frozenset(_strings(body, "scopes")),
            name=_text(body, "name", ""),
            expires_at=_time(body, "expires_at"),
        )
        created = await self._store.create_key(spec)
        return {"key": created.plaintext, **key_json(created.key, self._store.now())}

    async def list_keys(self, request: Request, key: ApiKey) -> list[Json]:
        tenant = tenant_filter(key, request.query_params.get("tenant") or None)
        now = self._store.now()
        return [key_json(k, now) for k in await self._store.list_keys(tenant)]

    async def get_key(self, request: Request, key: ApiKey) -> Json:
        tenant = tenant_filter(key, None)
        found = await self._store.get_key(request.path_params["key_id"], tenant=tenant)
        return key_json(found, self._store.now())

    async def revoke(self, request: Request, key: ApiKey) -> Json:
        tenant = tenant_filter(key, None)
        revoked = await self._lookup.revoke(request.path_params["key_id"], tenant=tenant)
        return key_json(revoked, self._store.now())


def key_json(key: ApiKey, now: datetime) -> Json:
    return {
        "id": key.id,
        "prefix": key.prefix,
        "tenant": key.tenant,
        "user": key.user,
        "tier": key.tier,
        "scopes": sorted(key.scopes),
        "name": key.name,
        "state": key.state(now).value,
        "created_at": _iso(key.created_at),
        "expires_at": _iso(key.expires_at),
        "revoked_at": _iso(key.revoked_at),
    }


def tenant_json(tenant: Tenant) -> Json:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "disabled": tenant.disabled,
        "created_at": _iso(tenant.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def _object(request: Request) -> Json:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise InvalidArgument.field("body", "must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidArgument.field("body", "must be a JSON object")
    return body


_REQUIRED = object()


def _text(body: Json, name: str, default: object = _REQUIRED) -> str:
    value = body.get(name)
    if value is None:
        if default is _REQUIRED:
            raise InvalidArgument.field(name, "is required")
        return str(default)
    if not isinstance(value, str):
        raise InvalidArgument.field(name, "must be a string")
    return value


def _strings(body: Json, name: str) -> list[str]:
    value = body.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument.field(name, "must be a list of strings")
    return value


def _time(body: Json, name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidArgument.field(name, "must be an RFC 3339 time") from None


__all__ = ["KeysApi", "key_json", "tenant_json"]
