"""The server interceptor every service installs: request context, metrics and errors.

One interceptor does the three jobs in one wrapper, and wraps each method once (the wrapped
handler is cached per method), because every layer of a grpc.aio interceptor costs a coroutine
and a handler object per call, which a rate limiter answering thousands of calls a second on
one core cannot afford. Around each call it:

- binds the request id (the caller's `x-request-id` metadata, or a new one) to
  `svckit.logs.request_id_var`, so every log line of the call carries it;
- counts and times the call in `svckit.metrics.RpcMetrics` with its final status code;
- turns `svckit.errors.ServiceError` into a canonical status with `google.rpc.Status` details
  (ErrorInfo, and BadRequest for invalid arguments), and any other exception into INTERNAL with
  a generic message and one log line with the traceback; internals never reach the caller.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from svckit.errors import InvalidArgument, ServiceError
from svckit.handlers import StreamBehaviour, UnaryBehaviour, split_method, wrap_handler
from svckit.logs import request_id_var
from svckit.metrics import MethodMetrics, RpcMetrics

log = logging.getLogger("svckit.errors")

REQUEST_ID_HEADER = "x-request-id"
_MAX_REQUEST_ID = 128
_INTERNAL = status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")


def status_of(error: ServiceError, domain: str) -> status_pb2.Status:
    """The google.rpc.Status that carries `error` on the wire."""
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=error.metadata)
    details: list[Any] = [info]
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


def request_id_of(context: grpc.aio.ServicerContext) -> str:
    """The caller's request id when it sent a usable one, else a new one."""
    for key, value in context.invocation_metadata() or ():
        if (
            key == REQUEST_ID_HEADER
            and isinstance(value, str)
            and 0 < len(value) <= _MAX_REQUEST_ID
        ):
            return value
    # Unique, not secret: the cheap generator is enough, and this runs for every call.
    return f"{random.getrandbits(128):032x}"


def _code_name(context: grpc.aio.ServicerContext, failed: bool) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN" if failed else "OK"


Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]]


class ServerCallInterceptor(grpc.aio.ServerInterceptor):
    """Request context, metrics and error mapping; `domain` names the service in ErrorInfo."""

    def __init__(self, domain: str, metrics: RpcMetrics) -> None:
        self._domain = domain
        self._metrics = metrics
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler | None]] = {}

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:  # UNIMPLEMENTED: no series or cache entry per name a caller invents
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            bound = self._metrics.method(*split_method(method))
            wrapped = wrap_handler(handler, self._unary(bound), self._stream(bound))
            cached = self._wrapped[method] = (handler, wrapped)
        return cached[1]

    def _unary(self, metrics: MethodMetrics) -> Callable[[UnaryBehaviour], UnaryBehaviour]:
        def wrap(behaviour: UnaryBehaviour) -> UnaryBehaviour:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                token = request_id_var.set(request_id_of(context))
                started = metrics.start()
                failed = True
                try:
                    result = await behaviour(request, context)
                    failed = False
                    return result
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await self._abort(context, exc)
                finally:
                    metrics.finish(started, _code_name(context, failed))
                    request_id_var.reset(token)

            return call

        return wrap

    def _stream(self, metrics: MethodMetrics) -> Callable[[StreamBehaviour], StreamBehaviour]:
        def wrap(behaviour: StreamBehaviour) -> StreamBehaviour:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                token = request_id_var.set(request_id_of(context))
                started = metrics.start()
                failed = True
                try:
                    async for item in behaviour(request, context):
                        yield item
                    failed = False
                except grpc.aio.AbortError:
                    raise
                except Exception as exc:
                    await self._abort(context, exc)
                finally:
                    metrics.finish(started, _code_name(context, failed))
                    request_id_var.reset(token)

            return call

        return wrap

    async def _abort(self, context: grpc.aio.ServicerContext, exc: Exception) -> None:
        if isinstance(exc, ServiceError):
            status = status_of(exc, self._domain)
        else:
            log.exception("unhandled error in RPC handler")
            status = _INTERNAL
        await context.abort_with_status(rpc_status.to_status(status))


__all__ = ["REQUEST_ID_HEADER", "ServerCallInterceptor", "request_id_of", "status_of"]
