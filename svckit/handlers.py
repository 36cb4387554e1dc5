"""Wraps the behaviour of a grpc.aio method handler, whatever its streaming shape.

grpc.aio interceptors receive a `grpc.RpcMethodHandler`; to run code around a call they must
rebuild the handler with a wrapped behaviour. `wrap_handler` does that once for all four shapes,
so each interceptor only writes `around(call, context)` for unary responses and
`around_stream(...)` for streamed ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

UnaryBehaviour = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehaviour = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]
UnaryWrapper = Callable[[UnaryBehaviour], UnaryBehaviour]
StreamWrapper = Callable[[StreamBehaviour], StreamBehaviour]


def wrap_handler(
    handler: grpc.RpcMethodHandler | None, unary: UnaryWrapper, stream: StreamWrapper
) -> grpc.RpcMethodHandler | None:
    """Return `handler` with its behaviour wrapped by `unary` or `stream`."""
    if handler is None:
        return None
    common = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary(handler.unary_unary), **common)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream(handler.unary_stream), **common)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary(handler.stream_unary), **common)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(stream(handler.stream_stream), **common)
    return handler


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    _, service, method = full_method.split("/", 2)
    return service, method
