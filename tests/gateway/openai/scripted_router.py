"""A real gRPC RouterService with scripted answers, and a small HTTP front using the wire format.

The router answers by model name with protobufs built by hand, and fails through svckit's real
error interceptor, so the front sees the same statuses and `google.rpc.Status` details the real
router sends. The Starlette front is a test harness for the OpenAI wire format (parse, call the
router, translate, frame, map errors), not the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from google.protobuf import timestamp_pb2
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from gateway.openai import (
    MEDIA_TYPE,
    SSE_HEADERS,
    ChatCompletionCall,
    chat_completion,
    decode_body,
    insufficient_quota,
    model_list,
    parse_chat_completion,
    primed,
    rate_limit_exceeded,
    sse_frames,
    to_openai_error,
    translate_stream,
)
from svckit.errors import FieldViolation, InvalidArgument, NotFound, Unavailable
from svckit.server import Registration, ServiceApp

CREATED = timestamp_pb2.Timestamp(seconds=1_700_000_000)
USAGE = pb.Usage(input_tokens=12, output_tokens=5, cached_tokens=4)
WEATHER_CALL = pb.ToolCall(
    id="call_1",
    type="function",
    function=pb.FunctionCall(name="get_weather", arguments='{"city": "Paris"}'),
)


def answer(model: str) -> pb.CompleteResponse:
    """The scripted unary answer: text, or a tool call for the "tools" model."""
    message = pb.ChatMessage(role="assistant", content="Hello there!")
    finish = "stop"
    if model == "tools":
        message = pb.ChatMessage(role="assistant", tool_calls=[WEATHER_CALL])
        finish = "tool_calls"
    return pb.CompleteResponse(
        id="chatcmpl-scripted",
        model=model,
        choices=[pb.Choice(index=0, message=message, finish_reason=finish)],
        usage=USAGE,
        served=pb.Served(request_id="req-1", deployment="d1", provider="mock"),
        created=CREATED,
    )


def stream_answer(model: str) -> list[pb.StreamCompleteResponse]:
    """The scripted stream: role, pieces, finish, then usage on the last chunk."""
    deltas = [pb.ChatMessage(role="assistant"), *_pieces(model)]
    chunks = [_chunk(model, [pb.ChoiceDelta(index=0, delta=d)]) for d in deltas]
    finish = "tool_calls" if model == "tools" else "stop"
    chunks.append(_chunk(model, [pb.ChoiceDelta(index=0, finish_reason=finish)]))
    chunks.append(pb.StreamCompleteResponse(id="chatcmpl-s", model=model, usage=USAGE))
    return chunks


def _pieces(model: str) -> list[pb.ChatMessage]:
    if model != "tools":
        return [pb.ChatMessage(content=text) for text in ("Hel", "lo ", "there!")]
    first = pb.ToolCall(
        index=0, id="call_1", type="function", function=pb.FunctionCall(name="get_weather")
    )
    rest = [
        pb.ToolCall(index=0, function=pb.FunctionCall(arguments=a))
        for a in ('{"ci', 'ty": ', '"Paris"}')
    ]
    return [pb.ChatMessage(tool_calls=[call]) for call in (first, *rest)]


def _chunk(model: str, choices: list[pb.ChoiceDelta]) -> pb.StreamCompleteResponse:
    return pb.StreamCompleteResponse(id="chatcmpl-s", model=model, choices=choices, created=CREATED)


class ScriptedRouter(pb_grpc.RouterServiceServicer):
    """Answers by model: "missing" is NOT_FOUND, "down" UNAVAILABLE, "rejected" INVALID_ARGUMENT,
    "breaks" fails after the first chunk of a stream; any other model answers."""

    def __init__(self) -> None:
        self.requests: list[pb.CompleteRequest] = []

    async def Complete(  # noqa: N802 (gRPC's method name)
        self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteResponse:
        self.requests.append(request)
        _fail_for(request.model)
        return answer(request.model)

    async def StreamComplete(  # noqa: N802
        self, request: pb.StreamCompleteRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamCompleteResponse]:
        self.requests.append(request.request)
        model = request.request.model
        _fail_for(model)
        for i, chunk in enumerate(stream_answer(model)):
            if model == "breaks" and i == 2:
                raise Unavailable(
                    "deployment d1 at 10.0.0.7 broke", reason="UPSTREAM_STREAM_BROKEN"
                )
            yield chunk

    async def ListModels(  # noqa: N802
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(
            models=[pb.Model(name="small", strategy="ordered"), pb.Model(name="tools")]
        )


def _fail_for(model: str) -> None:
    if model == "missing":
        raise NotFound(f"no model named {model!r} in the catalogue", reason="MODEL_NOT_FOUND")
    if model == "down":
        raise Unavailable(
            "every deployment failed: d1 at 10.0.0.7", reason="ALL_DEPLOYMENTS_FAILED"
        )
    if model == "rejected":
        violation = FieldViolation("messages[0].content", "too long for every deployment")
        raise InvalidArgument([violation], reason="UPSTREAM_REJECTED")


def router_app(router: ScriptedRouter) -> ServiceApp:
    registration = Registration(
        "switchboard.router.v1.RouterService",
        lambda server: pb_grpc.add_RouterServiceServicer_to_server(router, server),
    )
    return ServiceApp(name="router", registrations=[registration], registry=CollectorRegistry())


@dataclass
class Front:
    """The HTTP side: gateway decisions scripted by model ("limited", "broke"), the rest routed."""

    stub: pb_grpc.RouterServiceStub
    limited_seen: int = 0
    calls: list[ChatCompletionCall] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    async def chat(self, request: Request) -> Response:
        context = pb.CallContext(request_id="req-1", tenant="t1", subject="keys/k1")
        try:
            call = parse_chat_completion(decode_body(await request.body()), context)
            self.calls.append(call)
            self._decide(call.request.model)
            if call.stream:
                chunks = await primed(self.stub.StreamComplete(call.stream_request()))
                frames = sse_frames(translate_stream(chunks, call.include_usage))
                return StreamingResponse(frames, media_type=MEDIA_TYPE, headers=SSE_HEADERS)
            return JSONResponse(chat_completion(await self.stub.Complete(call.request)))
        except Exception as error:
            status, headers, body = to_openai_error(error).to_response()
            return JSONResponse(body, status, headers)

    def _decide(self, model: str) -> None:
        """Stand-ins for the gateway's rate-limit and budget decisions."""
        if model == "limited":
            raise rate_limit_exceeded("Rate limit reached for requests.", 0.01)
        if model == "limited-once" and self.limited_seen == 0:
            self.limited_seen += 1
            raise rate_limit_exceeded("Rate limit reached for requests.", 0.01)
        if model == "broke":
            raise insufficient_quota()

    async def models(self, request: Request) -> Response:
        try:
            listing = await self.stub.ListModels(pb.ListModelsRequest())
        except Exception as error:
            status, headers, body = to_openai_error(error).to_response()
            return JSONResponse(body, status, headers)
        return JSONResponse(model_list(listing, created=1_700_000_000))
