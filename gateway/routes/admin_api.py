"""The admin API under `/admin`: every annotated admin RPC of the services, transcoded from its
`google.api.http` annotation (`/admin` + the annotation's path, e.g. `POST
/admin/v1/quota:check`, `GET /admin/v1/cost/spend`), and the gateway's own key and tenant
routes (`keys_api`). The prefix keeps the services' paths clear of the OpenAI routes' `/v1/...`
(the router's `GET /v1/router/models` next to OpenAI's `GET /v1/models`, for one).

Every request needs a key with the `admin` scope. A platform admin key passes straight to the
proxy; any other is confined to its tenant by `confinement`'s rule for the RPC, checked on the
request message as the proxy would build it. Errors are Google's JSON error body, the shape of
every transcoded answer.
"""

from __future__ import annotations

from urllib.parse import urlencode

import grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from gateway.keys.model import ApiKey
from gateway.keys.scoping import ADMIN, is_platform_admin
from gateway.pipeline.auth import Authenticator
from gateway.routes.confinement import Forced, TenantData, rule_of
from gateway.transcoding.http_rules import Matched, resolve_field_path
from gateway.transcoding.proxy import TranscodingRouter
from gateway.transcoding.request_mapping import RequestMappingError, build_request
from gateway.transcoding.status_map import error_body, rpc_error_body
from svckit.caller import CALLER_KEY_METADATA, CALLER_TENANT_METADATA
from svckit.errors import ServiceError

PREFIX = "/admin"
TENANT_METADATA = CALLER_TENANT_METADATA
KEY_METADATA = CALLER_KEY_METADATA


def admin_error(error: ServiceError) -> JSONResponse:
    body = error_body(error.code, error.message)
    return JSONResponse(body, status_code=body["error"]["code"])


class TranscodedAdmin:
    """ASGI app serving the transcoded RPCs behind authentication and confinement."""

    def __init__(
        self, auth: Authenticator, proxy: TranscodingRouter, tenant_data: TenantData
    ) -> None:
        self._auth = auth
        self._proxy = proxy
        self._data = tenant_data

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        try:
            key = await self._auth.identify(request.headers, ADMIN)
        except ServiceError as refused:
            return admin_error(refused)
        request.scope.setdefault("state", {})["admin_key"] = key
        body = await request.body()
        replayed = _replaying(request.scope, body)
        if is_platform_admin(key):
            return await self._proxy.handle(replayed)
        found = self._proxy.table.lookup(request.method, _route_path(request.scope))
        if not isinstance(found, Matched):
            return await self._proxy.handle(replayed)  # its 404 or 405
        try:
            forced = await self._confine(found, request, body, key)
        except RequestMappingError:
            return await self._proxy.handle(replayed)  # its 400, with the violations
        except ServiceError as refused:
            return admin_error(refused)
        except grpc.aio.AioRpcError as failed:  # a lookup the rule needed
            status, error = rpc_error_body(failed)
            return JSONResponse(error, status_code=status)
        return await self._proxy.handle(_replaying(_forcing(request.scope, forced, found), body))

    async def _confine(self, found: Matched, request: Request, body: bytes, key: ApiKey) -> Forced:
        query = request.query_params.multi_items()
        message = build_request(found.route, found.path_params, query, body)
        return await rule_of(found.route.full_name).check(message, key, self._data)


def identity_metadata(request: Request) -> list[tuple[str, str]]:
    """What the services learn of the caller (for their logs and audit), set by `handle`."""
    key = request.scope.get("state", {}).get("admin_key")
    if not isinstance(key, ApiKey):
        return []
    return [(TENANT_METADATA, key.tenant), (KEY_METADATA, key.id)]


def _forcing(scope: Scope, forced: Forced, found: Matched) -> Scope:
    if not forced:
        return scope
    descriptor = found.route.method.input_type
    names: set[str] = set()
    for path in forced:
        names |= {path, ".".join(f.json_name for f in resolve_field_path(descriptor, path))}
    request = Request(scope)
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in names]
    query = urlencode([*kept, *forced.items()]).encode()
    return {**scope, "query_string": query}


def _replaying(scope: Scope, body: bytes) -> Request:
    """A request over `scope` whose body is `body` again (the original was read already)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def _route_path(scope: Scope) -> str:
    """The still-encoded path below the mount point, as the proxy matches it."""
    raw = scope.get("raw_path")
    path = raw.decode("utf-8", "replace") if raw else str(scope["path"])
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


__all__ = ["KEY_METADATA", "PREFIX", "TENANT_METADATA", "TranscodedAdmin", "admin_error"]
