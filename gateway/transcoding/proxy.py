"""An ASGI component that serves every transcoded route by calling its RPC over gRPC.

`TranscodingRouter(routes, channels)` matches the method and raw path, builds the request message
(`request_mapping`), calls the unary method through a generic multicallable on the service's
channel (no generated stub: the message classes come from the descriptors), and answers the
proto3 JSON mapping of the response in lowerCamelCase. A `google.api.HttpBody` response is sent
as it is, with its content type. Failures answer Google's JSON error body with the status of
`status_map`'s table; unknown paths are 404 and known paths with another method 405.

Decisions:
- Fields without presence are always printed (`"allowed": false`, `"limits": []`), so REST
  clients see every field; fields with presence (messages, `optional`) appear only when set.
- The caller's `x-request-id` is forwarded when it is a short printable value; anything else the
  call should carry (identity, for example) comes from the `metadata_for` hook.
- Every route's service must have a channel: a missing one fails at construction, not per call.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.api import httpbody_pb2
from google.protobuf import json_format
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.http.metrics import ROUTE_TEMPLATE
from gateway.transcoding.http_rules import Matched, NotAllowed, Route, RouteTable
from gateway.transcoding.request_mapping import RequestMappingError, build_request, message_class
from gateway.transcoding.status_map import bad_request_body, error_body, rpc_error_body

Metadata = Sequence[tuple[str, str]]
MetadataFor = Callable[[Request], Metadata | Awaitable[Metadata]]

REQUEST_ID_HEADER = "x-request-id"
_MAX_REQUEST_ID = 128
_JSON = "application/json"
_HTTP_BODY = "google.api.HttpBody"


@dataclass(frozen=True)
class _Target:
    """A route's ready-to-call multicallable."""

    call: Any  # grpc.aio.UnaryUnaryMultiCallable; grpc ships no usable generic type for it.
    http_body: bool


class TranscodingRouter:
    """Starlette-mountable ASGI app serving the routes of `routes` over `channels`.

    `channels` maps a service's full name ("switchboard.cost.v1.CostService") to its channel.
    """

    def __init__(
        self,
        routes: RouteTable | Iterable[Route],
        channels: Mapping[str, grpc.aio.Channel],
        *,
        metadata_for: MetadataFor | None = None,
        timeout_seconds: float | None = 30.0,
    ) -> None:
        self.table = routes if isinstance(routes, RouteTable) else RouteTable(routes)
        missing = sorted({r.service_name for r in self.table.routes} - set(channels))
        if missing:
            raise ValueError(f"no gRPC channel for {', '.join(missing)}")
        self._targets = {r: _target(r, channels[r.service_name]) for r in self.table.routes}
        self._metadata_for = metadata_for
        self._timeout = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        """The response to one request (also usable from a Starlette endpoint)."""
        found = self.table.lookup(request.method, _route_path(request.scope))
        if found is None:
            return _error(grpc.StatusCode.NOT_FOUND, "no route for this path")
        if isinstance(found, NotAllowed):
            response = _error_response(405, "METHOD_NOT_ALLOWED", "method not allowed here")
            response.headers["Allow"] = ", ".join(found.allowed)
            return response
        request.scope[ROUTE_TEMPLATE] = found.route.template.text
        return await self._call(request, found)

    async def _call(self, request: Request, found: Matched) -> Response:
        route = found.route
        try:
            message = build_request(
                route, found.path_params, request.query_params.multi_items(), await request.body()
            )
        except RequestMappingError as error:
            return _json(400, bad_request_body(error.violations, error.message))
        target = self._targets[route]
        metadata = await self._metadata(request)
        try:
            reply: Message = await target.call(message, metadata=metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            status, body = rpc_error_body(error)
            return _json(status, body)
        return _reply(route, reply, target.http_body)

    async def _metadata(self, request: Request) -> list[tuple[str, str]]:
        metadata: list[tuple[str, str]] = []
        request_id = request.headers.get(REQUEST_ID_HEADER, "")
        if 0 < len(request_id) <= _MAX_REQUEST_ID and request_id.isprintable():
            metadata.append((REQUEST_ID_HEADER, request_id))
        if self._metadata_for is not None:
            extra = self._metadata_for(request)
            if inspect.isawaitable(extra):
                extra = await extra
            metadata.extend(extra)
        return metadata


def _target(route: Route, channel: grpc.aio.Channel) -> _Target:
    request_type = message_class(route.method.input_type)
    response_type = message_class(route.method.output_type)
    call = channel.unary_unary(
        route.grpc_path,
        request_serializer=request_type.SerializeToString,
        response_deserializer=response_type.FromString,
    )
    body_type = _response_body_type(route)
    return _Target(call, body_type == _HTTP_BODY)


def _response_body_type(route: Route) -> str:
    output = route.method.output_type
    if route.response_body is None:
        return str(output.full_name)
    field = output.fields_by_name[route.response_body]
    return str(field.message_type.full_name) if field.message_type is not None else ""


def _reply(route: Route, reply: Message, http_body: bool) -> Response:
    if route.response_body is not None:
        field = reply.DESCRIPTOR.fields_by_name[route.response_body]
        if http_body:
            return _raw(getattr(reply, route.response_body))
        whole = json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)
        return _json(200, whole.get(field.json_name))
    if http_body:
        return _raw(reply)
    return _json(200, json_format.MessageToDict(reply, always_print_fields_with_no_presence=True))


def _raw(body: httpbody_pb2.HttpBody) -> Response:
    return Response(body.data, status_code=200, media_type=body.content_type or None)


def _route_path(scope: Scope) -> str:
    """The still-encoded path below the mount point (Starlette keeps the prefix in `path`)."""
    raw = scope.get("raw_path")
    path = raw.decode("utf-8", "replace") if raw else str(scope["path"])
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _json(status: int, body: Any) -> Response:
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, status_code=status, media_type=_JSON)


def _error(code: grpc.StatusCode, message: str) -> Response:
    body = error_body(code, message)
    return _json(body["error"]["code"], body)


def _error_response(status: int, name: str, message: str) -> Response:
    return _json(
        status, {"error": {"code": status, "status": name, "message": message, "details": []}}
    )


__all__ = ["REQUEST_ID_HEADER", "Metadata", "MetadataFor", "TranscodingRouter"]
