"""Server interceptors every service installs: request context and the error vocabulary.

`RequestContextInterceptor` gives each call a request id (the caller's `x-request-id` metadata,
or a new one) in `svckit.logs.request_id_var`, so every log line of the call carries it.

`ErrorInterceptor` turns `svckit.errors.ServiceError` into a canonical status with
`google.rpc.Status` details (ErrorInfo, and BadRequest for invalid arguments) and any other
exception into INTERNAL with a generic message and one log line with the traceback; internal
details never reach the caller.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from svckit.errors import InvalidArgument, ServiceError
from svckit.handlers import StreamBehaviour, UnaryBehaviour, wrap_handler
from svckit.logs import request_id_var

log = logging.getLogger("svckit.errors")

REQUEST_ID_HEADER = "x-request-id"
_MAX_REQUEST_ID = 128


def status_of(error: ServiceError, domain: str) -> status_pb2.Status:
    """The google.rpc.Status that carries `error` on the wire."""
    details = [
        error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=error.metadata)
    ]
    if isinstance(error, InvalidArgument):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in error.violations
        ]
        details.append(error_details_pb2.BadRequest(field_violations=violations))
    packed = []
    for detail in details:
        container = any_pb2.Any()
        container.Pack(detail)
        packed.append(container)
    return status_pb2.Status(code=error.code.value[0], message=error.message, details=packed)


_INTERNAL = status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Maps raised errors to statuses; `domain` names the service in ErrorInfo."""

    def __init__(self, domain: str) -> None:
        self._domain = domain

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        return wrap_handler(handler, self._unary, self._stream)

    async def _abort(self, context: grpc.aio.ServicerContext, exc: Exception) -> None:
        if isinstance(exc, ServiceError):
            status = status_of(exc, self._domain)
        else:
            log.exception("unhandled error in RPC handler")
            status = _INTERNAL
        await context.abort_with_status(rpc_status.to_status(status))

    def _unary(self, behaviour: UnaryBehaviour) -> UnaryBehaviour:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await behaviour(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._abort(context, exc)

        return call

    def _stream(self, behaviour: StreamBehaviour) -> StreamBehaviour:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                async for item in behaviour(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await self._abort(context, exc)

        return call


def _request_id(details: grpc.HandlerCallDetails) -> str:
    for key, value in details.invocation_metadata or ():
        if (
            key == REQUEST_ID_HEADER
            and isinstance(value, str)
            and 0 < len(value) <= _MAX_REQUEST_ID
        ):
            return value
    return uuid.uuid4().hex


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    """Binds the call's request id to the logging context for the call's duration."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        request_id = _request_id(handler_call_details)

        def unary(behaviour: UnaryBehaviour) -> UnaryBehaviour:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                token = request_id_var.set(request_id)
                try:
                    return await behaviour(request, context)
                finally:
                    request_id_var.reset(token)

            return call

        def stream(behaviour: StreamBehaviour) -> StreamBehaviour:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                token = request_id_var.set(request_id)
                try:
                    async for item in behaviour(request, context):
                        yield item
                finally:
                    request_id_var.reset(token)

            return call

        return wrap_handler(handler, unary, stream)


__all__ = ["REQUEST_ID_HEADER", "ErrorInterceptor", "RequestContextInterceptor", "status_of"]
