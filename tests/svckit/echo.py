"""A tiny generic gRPC service for testing the kit: each method does what its name says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from google.protobuf import wrappers_pb2
from prometheus_client import CollectorRegistry

from svckit.errors import FieldViolation, InvalidArgument, NotFound
from svckit.logs import request_id_var
from svckit.server import Registration, ServiceApp

SERVICE = "test.Echo"
StringValue = wrappers_pb2.StringValue


async def echo(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    return StringValue(value=request.value)


async def request_id(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    return StringValue(value=request_id_var.get())


async def invalid(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    raise InvalidArgument(
        [FieldViolation("name", "must not be empty"), FieldViolation("size", "must be positive")]
    )


async def missing(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    raise NotFound("no such thing", reason="THING_NOT_FOUND", metadata={"thing": request.value})


async def crash(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    raise RuntimeError("secret internals password=hunter2")


async def slow(request: StringValue, context: grpc.aio.ServicerContext) -> StringValue:
    await asyncio.sleep(float(request.value))
    return StringValue(value="done")


async def stream(
    request: StringValue, context: grpc.aio.ServicerContext
) -> AsyncIterator[StringValue]:
    for char in request.value:
        if char == "!":
            raise NotFound("bang")
        yield StringValue(value=char)


def _unary(fn: object) -> grpc.RpcMethodHandler:
    return grpc.unary_unary_rpc_method_handler(
        fn,
        request_deserializer=StringValue.FromString,
        response_serializer=StringValue.SerializeToString,
    )


def _add(server: grpc.aio.Server) -> None:
    handlers = {
        name: _unary(fn)
        for name, fn in {
            "Echo": echo,
            "RequestId": request_id,
            "Invalid": invalid,
            "Missing": missing,
            "Crash": crash,
            "Slow": slow,
        }.items()
    }
    handlers["Stream"] = grpc.unary_stream_rpc_method_handler(
        stream,
        request_deserializer=StringValue.FromString,
        response_serializer=StringValue.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


def echo_app(**kwargs: object) -> ServiceApp:
    return ServiceApp(
        name="echo",
        registrations=[Registration(SERVICE, _add)],
        registry=CollectorRegistry(),
        **kwargs,  # type: ignore[arg-type]
    )


def unary(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(
        f"/{SERVICE}/{method}",
        request_serializer=StringValue.SerializeToString,
        response_deserializer=StringValue.FromString,
    )
