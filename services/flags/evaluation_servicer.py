"""flagd's evaluation services, `flagd.evaluation.v2.Service` (what the OpenFeature flagd
provider's RPC mode calls) and `flagd.evaluation.v1.Service` (with ResolveAll), on the
service's port. Their messages are the provider wheel's generated stubs
(`openfeature.schemas.protobuf`), never re-declared here.

v2 leaves `value` and `variant` unset when there is none (DISABLED, or DEFAULT without a
default variant), so clients substitute their code default; zero values (false, "", 0) are
real values and are set. v1 keeps flagd's older answers: DISABLED with zero value and empty
variant, and NOT_FOUND when no variant was chosen. v1's ResolveAll leaves out, as flagd's
ResolveAllValues does, disabled flags and flags without a default variant (an OFREP bulk
evaluation, built on it, lists neither). Each call's selector is its `flagd-selector` header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2 as v1
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2_grpc as v1_grpc
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2 as v2
from openfeature.schemas.protobuf.flagd.evaluation.v2 import evaluation_pb2_grpc as v2_grpc

from services.flags.document import DISABLED
from services.flags.evaluation import (
    Evaluator,
    FlagNotFound,
    Resolution,
    ValueKind,
    kind_of,
)
from services.flags.selector import selector_from
from services.flags.state import FlagState
from services.flags.streams import flag_events
from services.flags.values import from_struct, to_struct
from svckit.errors import ServiceError

V1_SERVICE = "flagd.evaluation.v1.Service"
V2_SERVICE = "flagd.evaluation.v2.Service"

_CASTS: dict[ValueKind, Callable[[Any], Any]] = {
    ValueKind.BOOLEAN: bool,
    ValueKind.STRING: str,
    ValueKind.INTEGER: int,
    ValueKind.FLOAT: float,
}


class _Evaluating:
    """What both versions share: resolving a request, and the event stream."""

    def __init__(self, evaluator: Evaluator, state: FlagState, keepalive_seconds: float) -> None:
        self._evaluator = evaluator
        self._state = state
        self._keepalive = keepalive_seconds

    def _resolve(
        self, request: Any, context: grpc.aio.ServicerContext, kind: ValueKind
    ) -> Resolution:
        selector = selector_from(context.invocation_metadata())
        return self._evaluator.resolve(
            request.flag_key, kind, from_struct(request.context), selector
        )

    async def _events(self, context: grpc.aio.ServicerContext, response: Any) -> AsyncIterator[Any]:
        selector = selector_from(context.invocation_metadata())
        async for event in flag_events(self._state, selector, self._keepalive):
            yield response(type=event.type, data=to_struct(event.data))


Response = TypeVar("Response")


def _fill(response: Response, resolution: Resolution, kind: ValueKind) -> Response:
    message: Any = response
    if resolution.metadata:
        message.metadata.update(resolution.metadata)
    if resolution.variant is None:
        return response
    message.variant = resolution.variant
    if kind is ValueKind.OBJECT:
        message.value.SetInParent()
        message.value.update(resolution.value)
    else:
        message.value = _CASTS[kind](resolution.value)
    return response


class EvaluationV2Servicer(_Evaluating, v2_grpc.ServiceServicer):
    async def ResolveBoolean(
        self, request: v2.ResolveBooleanRequest, context: grpc.aio.ServicerContext
    ) -> v2.ResolveBooleanResponse:
        resolution = self._resolve(request, context, ValueKind.BOOLEAN)
        return _fill(
            v2.ResolveBooleanResponse(reason=resolution.reason), resolution, ValueKind.BOOLEAN
        )

    async def ResolveString(
        self, request: v2.ResolveStringRequest, context: grpc.aio.ServicerContext
    ) -> v2.ResolveStringResponse:
        resolution = self._resolve(request, context, ValueKind.STRING)
        return _fill(
            v2.ResolveStringResponse(reason=resolution.reason), resolution, ValueKind.STRING
        )

    async def ResolveFloat(
        self, request: v2.ResolveFloatRequest, context: grpc.aio.ServicerContext
    ) -> v2.ResolveFloatResponse:
        resolution = self._resolve(request, context, ValueKind.FLOAT)
        return _fill(v2.ResolveFloatResponse(reason=resolution.reason), resolution, ValueKind.FLOAT)

    async def ResolveInt(
        self, request: v2.ResolveIntRequest, context: grpc.aio.ServicerContext
    ) -> v2.ResolveIntResponse:
        resolution = self._resolve(request, context, ValueKind.INTEGER)
        return _fill(v2.ResolveIntResponse(reason=resolution.reason), resolution, ValueKind.INTEGER)

    async def ResolveObject(
        self, request: v2.ResolveObjectRequest, context: grpc.aio.ServicerContext
    ) -> v2.ResolveObjectResponse:
        resolution = self._resolve(request, context, ValueKind.OBJECT)
        return _fill(
            v2.ResolveObjectResponse(reason=resolution.reason), resolution, ValueKind.OBJECT
        )

    async def EventStream(
        self, request: v2.EventStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[v2.EventStreamResponse]:
        async for message in self._events(context, v2.EventStreamResponse):
            yield message


class EvaluationV1Servicer(_Evaluating, v1_grpc.ServiceServicer):
    def _v1(self, request: Any, context: grpc.aio.ServicerContext, kind: ValueKind) -> Resolution:
        resolution = self._resolve(request, context, kind)
        if resolution.variant is None and resolution.reason != "DISABLED":
            raise FlagNotFound("Flag not found")  # v1 has no "no default variant" answer
        return resolution

    async def ResolveBoolean(
        self, request: v1.ResolveBooleanRequest, context: grpc.aio.ServicerContext
    ) -> v1.ResolveBooleanResponse:
        resolution = self._v1(request, context, ValueKind.BOOLEAN)
        return _fill(
            v1.ResolveBooleanResponse(reason=resolution.reason), resolution, ValueKind.BOOLEAN
        )

    async def ResolveString(
        self, request: v1.ResolveStringRequest, context: grpc.aio.ServicerContext
    ) -> v1.ResolveStringResponse:
        resolution = self._v1(request, context, ValueKind.STRING)
        return _fill(
            v1.ResolveStringResponse(reason=resolution.reason), resolution, ValueKind.STRING
        )

    async def ResolveFloat(
        self, request: v1.ResolveFloatRequest, context: grpc.aio.ServicerContext
    ) -> v1.ResolveFloatResponse:
        resolution = self._v1(request, context, ValueKind.FLOAT)
        return _fill(v1.ResolveFloatResponse(reason=resolution.reason), resolution, ValueKind.FLOAT)

    async def ResolveInt(
        self, request: v1.ResolveIntRequest, context: grpc.aio.ServicerContext
    ) -> v1.ResolveIntResponse:
        resolution = self._v1(request, context, ValueKind.INTEGER)
        return _fill(v1.ResolveIntResponse(reason=resolution.reason), resolution, ValueKind.INTEGER)

    async def ResolveObject(
        self, request: v1.ResolveObjectRequest, context: grpc.aio.ServicerContext
    ) -> v1.ResolveObjectResponse:
        resolution = self._v1(request, context, ValueKind.OBJECT)
        return _fill(
            v1.ResolveObjectResponse(reason=resolution.reason), resolution, ValueKind.OBJECT
        )

    async def ResolveAll(
        self, request: v1.ResolveAllRequest, context: grpc.aio.ServicerContext
    ) -> v1.ResolveAllResponse:
        selector = selector_from(context.invocation_metadata())
        view = self._evaluator.view(selector)
        attributes = from_struct(request.context)
        response = v1.ResolveAllResponse(metadata=to_struct(view.set_metadata))
        for key, flag in view.flags.items():
            kind = kind_of(flag["variants"])
            if kind is None or flag["state"] == DISABLED or not flag.get("defaultVariant"):
                continue  # as flagd: disabled flags and those without a default are left out
            response.flags[key].CopyFrom(self._any_flag(key, kind, attributes, view, selector))
        return response

    def _any_flag(
        self, key: str, kind: ValueKind, attributes: Any, view: Any, selector: Any
    ) -> v1.AnyFlag:
        try:
            resolution = self._evaluator.resolve(key, kind, attributes, selector, view)
        except ServiceError:
            return _any_value(v1.AnyFlag(reason="ERROR"), kind, None)
        flag = v1.AnyFlag(reason=resolution.reason, variant=resolution.variant or "")
        if resolution.metadata:
            flag.metadata.update(resolution.metadata)
        return _any_value(flag, kind, resolution.value)

    async def EventStream(
        self, request: v1.EventStreamRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[v1.EventStreamResponse]:
        async for message in self._events(context, v1.EventStreamResponse):
            yield message


def _any_value(flag: v1.AnyFlag, kind: ValueKind, value: Any) -> v1.AnyFlag:
    """The value in AnyFlag's oneof by the flag's type; its zero value when there is none."""
    if kind is ValueKind.BOOLEAN:
        flag.bool_value = bool(value)
    elif kind is ValueKind.STRING:
        flag.string_value = value or ""
    elif kind is ValueKind.OBJECT:
        flag.object_value.SetInParent()
        flag.object_value.update(value or {})
    else:
        flag.double_value = float(value or 0)
    return flag


__all__ = ["V1_SERVICE", "V2_SERVICE", "EvaluationV1Servicer", "EvaluationV2Servicer"]
