"""Protobuf messages of switchboard.router.v1 to the router's types and back.

Only shapes change here; validation is `validation.py`'s. Proto3 `optional` fields map to None
when absent, so "temperature not given" (provider default) and "temperature 0" stay apart.
"""

from __future__ import annotations

import time
from typing import Any

from google.protobuf import json_format
from google.protobuf.duration_pb2 import Duration
from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from switchboard.router.v1 import router_service_pb2 as pb

from services.router.catalogue import Catalogue, Deployment
from services.router.chat import (
    CacheControl,
    CallContext,
    ChatRequest,
    Choice,
    Completion,
    FunctionCall,
    FunctionDefinition,
    Message,
    Sampling,
    StreamChunk,
    Tool,
    ToolCall,
    Usage,
)
from services.router.router import Routed, RoutedChunk, Served


def chat_request(message: pb.CompleteRequest) -> ChatRequest:
    return ChatRequest(
        model=message.model,
        messages=tuple(_message(m) for m in message.messages),
        tools=tuple(_tool(t) for t in message.tools),
        tool_choice=message.tool_choice,
        sampling=Sampling(
            temperature=message.temperature if message.HasField("temperature") else None,
            top_p=message.top_p if message.HasField("top_p") else None,
            max_tokens=message.max_tokens if message.HasField("max_tokens") else None,
            stop=tuple(message.stop),
            seed=message.seed if message.HasField("seed") else None,
        ),
        cache=CacheControl(
            no_cache=message.cache.no_cache,
            no_store=message.cache.no_store,
            ttl_seconds=seconds(message.cache.ttl) if message.cache.HasField("ttl") else None,
            allow_nondeterministic=message.cache.allow_nondeterministic,
        ),
        context=CallContext(
            request_id=message.context.request_id,
            tenant=message.context.tenant,
            subject=message.context.subject,
            endpoint=message.context.endpoint,
            prompt_name=message.context.prompt_name,
            prompt_version=message.context.prompt_version,
            flag_variants=dict(message.context.flag_variants),
            user=message.context.user,
            api_key_id=message.context.api_key_id,
        ),
    )


def _message(message: pb.ChatMessage) -> Message:
    return Message(
        role=message.role,
        content=message.content,
        name=message.name,
        tool_calls=tuple(_tool_call(c) for c in message.tool_calls),
        tool_call_id=message.tool_call_id,
    )


def _tool_call(call: pb.ToolCall) -> ToolCall:
    return ToolCall(
        id=call.id,
        function=FunctionCall(call.function.name, call.function.arguments),
        type=call.type or "function",
        index=call.index,
    )


def _tool(tool: pb.Tool) -> Tool:
    parameters: dict[str, Any] = json_format.MessageToDict(tool.function.parameters)
    return Tool(
        FunctionDefinition(tool.function.name, tool.function.description, parameters),
        type=tool.type or "function",
    )


def complete_response(routed: Routed, model: str) -> pb.CompleteResponse:
    completion = routed.completion
    return pb.CompleteResponse(
        id=completion.id,
        model=model,
        choices=[_choice(c) for c in completion.choices],
        usage=usage(completion.usage),
        served=served(routed.served),
        created=now(),
    )


def completion_message(completion: Completion, model: str) -> pb.CompleteResponse:
    """A completion without routing details (a job's stored result)."""
    return pb.CompleteResponse(
        id=completion.id,
        model=model,
        choices=[_choice(c) for c in completion.choices],
        usage=usage(completion.usage),
        served=pb.Served(upstream_model=completion.upstream_model),
    )


def stream_response(routed: RoutedChunk, model: str) -> pb.StreamCompleteResponse:
    chunk: StreamChunk = routed.chunk
    response = pb.StreamCompleteResponse(
        id=chunk.id,
        model=model,
        choices=[
            pb.ChoiceDelta(
                index=d.index, delta=chat_message(d.delta), finish_reason=d.finish_reason
            )
            for d in chunk.choices
        ],
        created=now(),
    )
    if chunk.usage is not None:
        response.usage.CopyFrom(usage(chunk.usage))
    if routed.served is not None:
        response.served.CopyFrom(served(routed.served))
    return response


def _choice(choice: Choice) -> pb.Choice:
    return pb.Choice(
        index=choice.index, message=chat_message(choice.message), finish_reason=choice.finish_reason
    )


def chat_message(message: Message) -> pb.ChatMessage:
    return pb.ChatMessage(
        role=message.role,
        content=message.content,
        name=message.name,
        tool_calls=[
            pb.ToolCall(
                id=c.id,
                type=c.type,
                function=pb.FunctionCall(name=c.function.name, arguments=c.function.arguments),
                index=c.index,
            )
            for c in message.tool_calls
        ],
        tool_call_id=message.tool_call_id,
    )


def usage(value: Usage) -> pb.Usage:
    return pb.Usage(
        input_tokens=value.input_tokens,
        output_tokens=value.output_tokens,
        cached_tokens=value.cached_tokens,
        cache_write_tokens=value.cache_write_tokens,
    )


def served(value: Served) -> pb.Served:
    return pb.Served(
        request_id=value.request_id,
        deployment=value.deployment,
        provider=value.provider,
        upstream_model=value.upstream_model,
        cache_hit=value.cache_hit,
        attempts=value.attempts,
        latency=duration(value.latency_seconds),
    )


def models(catalogue: Catalogue) -> pb.ListModelsResponse:
    return pb.ListModelsResponse(
        models=[
            pb.Model(
                name=route.name,
                strategy=route.strategy,
                deployments=[deployment(d) for d in route.deployments],
            )
            for route in catalogue.models
        ]
    )


def deployment(value: Deployment) -> pb.Deployment:
    return pb.Deployment(
        name=value.name,
        provider=value.provider,
        upstream_model=value.upstream_model,
        base_url=value.base_url,
        api_key_secret=value.api_key_secret,
        weight=value.weight,
        timeout=duration(value.timeout_seconds),
        max_retries=value.max_retries,
    )


def seconds(value: Duration) -> float:
    """`value` in seconds, whatever its range: validation, not a conversion, refuses it.

    `Duration.ToTimedelta` raises OverflowError (an INTERNAL status) past timedelta's range.
    """
    return value.seconds + value.nanos / 1e9


def duration(seconds: float) -> Duration:
    message = Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def timestamp(seconds: float) -> Timestamp:
    message = Timestamp()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


def now() -> Timestamp:
    return timestamp(time.time())


def struct(value: dict[str, Any]) -> Struct:
    message = Struct()
    message.update(value)
    return message
