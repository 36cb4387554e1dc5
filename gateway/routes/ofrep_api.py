"""OFREP, the OpenFeature Remote Evaluation Protocol, over the flag service.

    POST /ofrep/v1/evaluate/flags/{key}   one flag
    POST /ofrep/v1/evaluate/flags         every flag (bulk), with an ETag

so `openfeature-provider-ofrep` (and the other languages' OFREP providers) evaluate our flags
through the gateway. The body is `{"context": {...}}` (`targetingKey` and attributes); the key
(`Authorization: Bearer`, scope `inference`) is required, and its tenant is written into the
context as `tenant`, over any value the caller sent, so targeting by tenant cannot be spoofed.
`GATEWAY_FLAG_SELECTOR` picks the flag set, as for experiments.

Both routes ask the flag service's `flagd.evaluation.v1` `ResolveAll`, which evaluates every
flag with flagd's own engine and, as flagd's, leaves disabled flags out: the bulk answer does not
list them (as flagd's OFREP). One flag asked for by key and missing there is asked once more with
`ResolveBoolean`, which answers reason `DISABLED` for a disabled flag of any type: a flag
disabled by the kill switch is a successful evaluation with reason `DISABLED` and no value, so
every provider answers with the caller's default value at once; any other answer is 404
`FLAG_NOT_FOUND`. Answers follow the
OFREP schema: `{key, value, reason, variant, metadata}`, or `{key, errorCode, errorDetails}`
with 400 (`PARSE_ERROR`, `INVALID_CONTEXT`) or 404; 401/403 for keys; a flag service that does
not answer is 503 with `Retry-After`.

Numbers: flagd's `ResolveAll` carries every number as a double. A whole number goes out as a
JSON integer (so integer flags type-check in strict providers); a float flag whose variant is a
whole number (`1.0`) therefore also reads as `1`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2 as flagd
from openfeature.schemas.protobuf.flagd.evaluation.v1 import evaluation_pb2_grpc as flagd_grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.keys.model import ApiKey
from gateway.keys.scoping import INFERENCE
from gateway.openai.errors import OpenAIError
from gateway.openai.structs import UnfitForStruct, to_struct
from gateway.pipeline.auth import Authenticator
from gateway.pipeline.experiments import SELECTOR_HEADER

RETRY_AFTER_SECONDS = "1"
DISABLED = "DISABLED"
EVALUATION_ERRORS = frozenset(
    {
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNKNOWN,
    }
)
"""flagd's statuses for an evaluation that failed (flag not found, type mismatch, parse error,
general error), as opposed to a flag service that did not answer."""


class OfrepError(Exception):
    def __init__(self, status: int, code: str, details: str, key: str | None = None) -> None:
        super().__init__(details)
        self.status, self.code, self.details, self.key = status, code, details, key

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"errorCode": self.code, "errorDetails": self.details}
        if self.key is not None:
            body = {"key": self.key, **body}
        headers = {"retry-after": RETRY_AFTER_SECONDS} if self.status == 503 else {}
        return JSONResponse(body, status_code=self.status, headers=headers)


class OfrepRoutes:
    def __init__(
        self,
        auth: Authenticator,
        stub: flagd_grpc.ServiceStub,
        *,
        selector: str = "",
        timeout_seconds: float = 2.0,
    ) -> None:
        self._auth = auth
        self._stub = stub
        self._metadata = ((SELECTOR_HEADER, selector),) if selector else ()
        self._timeout = timeout_seconds

    def routes(self) -> list[Route]:
        return [
            Route("/ofrep/v1/evaluate/flags/{key:path}", self.evaluate_one, methods=["POST"]),
            Route("/ofrep/v1/evaluate/flags", self.evaluate_all, methods=["POST"]),
        ]

    async def evaluate_one(self, request: Request) -> Response:
        flag_key = request.path_params["key"]
        try:
            context = await self._context(request, flag_key)
            found = (await self._resolve_all(context, flag_key)).get(flag_key)
            if found is None:
                found = await self._disabled(context, flag_key)
            if found is None:
                raise OfrepError(404, "FLAG_NOT_FOUND", f"flag {flag_key!r} was not found")
            return JSONResponse(success(flag_key, found))
        except OfrepError as error:
            if error.status in (400, 404):
                error.key = flag_key
            return error.response()
        except OpenAIError as refused:  # the key: 401 or 403
            return JSONResponse({"errorDetails": refused.message}, status_code=refused.status)

    async def evaluate_all(self, request: Request) -> Response:
        try:
            flags = await self._resolve_all(await self._context(request, None), None)
        except OfrepError as error:
            return error.response()
        except OpenAIError as refused:
            return JSONResponse({"errorDetails": refused.message}, status_code=refused.status)
        body = {"flags": [success(key, flags[key]) for key in sorted(flags)]}
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        etag = '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return Response(raw, media_type="application/json", headers={"etag": etag})

    async def _context(self, request: Request, flag_key: str | None) -> struct_pb2.Struct:
        key = await self._auth.key(request.headers, INFERENCE)
        return evaluation_context(await request.body(), key, flag_key)

    async def _resolve_all(
        self, context: struct_pb2.Struct, flag_key: str | None
    ) -> Mapping[str, Any]:
        try:
            reply = await self._stub.ResolveAll(
                flagd.ResolveAllRequest(context=context),
                timeout=self._timeout,
                metadata=self._metadata,
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise OfrepError(400, "INVALID_CONTEXT", error.details() or "", flag_key) from None
            raise OfrepError(503, "GENERAL", "the flag service is unavailable") from None
        return dict(reply.flags)

    async def _disabled(self, context: struct_pb2.Struct, flag_key: str) -> flagd.AnyFlag | None:
        """The flag as a DISABLED evaluation when it is disabled (ResolveAll leaves those out);
        None when it is absent or anything else."""
        request = flagd.ResolveBooleanRequest(flag_key=flag_key, context=context)
        try:
            reply = await self._stub.ResolveBoolean(
                request, timeout=self._timeout, metadata=self._metadata
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in EVALUATION_ERRORS:  # not found, or enabled and not boolean
                return None
            raise OfrepError(503, "GENERAL", "the flag service is unavailable") from None
        if reply.reason != DISABLED:
            return None
        return flagd.AnyFlag(reason=DISABLED, metadata=reply.metadata)


def evaluation_context(raw: bytes, key: ApiKey, flag_key: str | None) -> struct_pb2.Struct:
    """The request's `context`, with the caller's tenant; PARSE_ERROR or INVALID_CONTEXT."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):  # ValueError also: an integer of over 4300 digits
        raise OfrepError(400, "PARSE_ERROR", "the body is not JSON", flag_key) from None
    if not isinstance(body, dict):
        raise OfrepError(400, "PARSE_ERROR", "the body must be a JSON object", flag_key)
    given = body.get("context", {})
    if not isinstance(given, dict):
        raise OfrepError(400, "INVALID_CONTEXT", "'context' must be an object", flag_key)
    targeting = given.get("targetingKey")
    if targeting is not None and not isinstance(targeting, str):
        raise OfrepError(400, "INVALID_CONTEXT", "'targetingKey' must be a string", flag_key)
    try:
        return to_struct({**given, "tenant": key.tenant})
    except UnfitForStruct as unfit:  # a huge number, a lone surrogate, deep nesting
        raise OfrepError(400, "INVALID_CONTEXT", f"'context' {unfit}", flag_key) from None


def success(key: str, flag: flagd.AnyFlag) -> dict[str, Any]:
    """An evaluation; without a variant and by default (or disabled), without a value, so the
    provider answers the caller's own default (flagd's rule: a disabled flag is a success)."""
    answer: dict[str, Any] = {"key": key, "reason": flag.reason or "UNKNOWN"}
    if flag.variant or flag.reason not in ("DEFAULT", "DISABLED"):
        answer["value"] = flag_value(flag)
    answer["variant"] = flag.variant
    answer["metadata"] = json_format.MessageToDict(flag.metadata)
    return answer


def flag_value(flag: flagd.AnyFlag) -> Any:
    kind = flag.WhichOneof("value")
    if kind == "bool_value":
        return flag.bool_value
    if kind == "string_value":
        return flag.string_value
    if kind == "double_value":
        number = flag.double_value
        return int(number) if number.is_integer() else number
    if kind == "object_value":
        return json_format.MessageToDict(flag.object_value)
    return None


__all__ = ["OfrepError", "OfrepRoutes", "evaluation_context", "flag_value", "success"]
