"""`ChatRequest` and `Completion` to JSON text and back, for the job rows.

Written by hand rather than with `dataclasses.asdict` so that the stored shape is explicit and
stable: a row written today must decode after the domain types grow. Decoding therefore
tolerates missing keys (the field's default) and ignores unknown ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

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
    Tool,
    ToolCall,
    Usage,
)

Json = dict[str, Any]


def dumps(value: Json) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def encode_request(request: ChatRequest) -> str:
    return dumps(request_to_json(request))


def decode_request(text: str) -> ChatRequest:
    return request_from_json(json.loads(text))


def encode_completion(completion: Completion) -> str:
    return dumps(completion_to_json(completion))


def decode_completion(text: str) -> Completion:
    return completion_from_json(json.loads(text))


def request_to_json(request: ChatRequest) -> Json:
    s, c, x = request.sampling, request.cache, request.context
    return {
        "model": request.model,
        "messages": [_message_to_json(m) for m in request.messages],
        "tools": [_tool_to_json(t) for t in request.tools],
        "tool_choice": request.tool_choice,
        "sampling": {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "stop": list(s.stop),
            "seed": s.seed,
        },
        "cache": {
            "no_cache": c.no_cache,
            "no_store": c.no_store,
            "ttl_seconds": c.ttl_seconds,
            "allow_nondeterministic": c.allow_nondeterministic,
        },
        "context": {
            "request_id": x.request_id,
            "tenant": x.tenant,
            "subject": x.subject,
            "endpoint": x.endpoint,
            "prompt_name": x.prompt_name,
            "prompt_version": x.prompt_version,
            "flag_variants": dict(x.flag_variants),
            "user": x.user,
            "api_key_id": x.api_key_id,
        },
    }


def request_from_json(data: Mapping[str, Any]) -> ChatRequest:
    s, c, x = data.get("sampling", {}), data.get("cache", {}), data.get("context", {})
    return ChatRequest(
        model=data["model"],
        messages=tuple(_message_from_json(m) for m in data.get("messages", ())),
        tools=tuple(_tool_from_json(t) for t in data.get("tools", ())),
        tool_choice=data.get("tool_choice", ""),
        sampling=Sampling(
            temperature=s.get("temperature"),
            top_p=s.get("top_p"),
            max_tokens=s.get("max_tokens"),
            stop=tuple(s.get("stop", ())),
            seed=s.get("seed"),
        ),
        cache=CacheControl(
            no_cache=c.get("no_cache", False),
            no_store=c.get("no_store", False),
            ttl_seconds=c.get("ttl_seconds"),
            allow_nondeterministic=c.get("allow_nondeterministic", False),
        ),
        context=CallContext(
            request_id=x.get("request_id", ""),
            tenant=x.get("tenant", ""),
            subject=x.get("subject", ""),
            endpoint=x.get("endpoint", ""),
            prompt_name=x.get("prompt_name", ""),
            prompt_version=x.get("prompt_version", 0),
            flag_variants=dict(x.get("flag_variants", {})),
            user=x.get("user", ""),
            api_key_id=x.get("api_key_id", ""),
        ),
    )


def completion_to_json(completion: Completion) -> Json:
    u = completion.usage
    return {
        "id": completion.id,
        "choices": [
            {
                "index": ch.index,
                "message": _message_to_json(ch.message),
                "finish_reason": ch.finish_reason,
            }
            for ch in completion.choices
        ],
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cached_tokens": u.cached_tokens,
            "cache_write_tokens": u.cache_write_tokens,
        },
        "upstream_model": completion.upstream_model,
    }


def completion_from_json(data: Mapping[str, Any]) -> Completion:
    u = data.get("usage", {})
    return Completion(
        id=data["id"],
        choices=tuple(
            Choice(
                index=ch["index"],
                message=_message_from_json(ch["message"]),
                finish_reason=ch.get("finish_reason", "stop"),
            )
            for ch in data.get("choices", ())
        ),
        usage=Usage(
            input_tokens=u.get("input_tokens", 0),
            output_tokens=u.get("output_tokens", 0),
            cached_tokens=u.get("cached_tokens", 0),
            cache_write_tokens=u.get("cache_write_tokens", 0),
        ),
        upstream_model=data.get("upstream_model", ""),
    )


def _message_to_json(message: Message) -> Json:
    return {
        "role": message.role,
        "content": message.content,
        "name": message.name,
        "tool_calls": [
            {
                "id": call.id,
                "type": call.type,
                "index": call.index,
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ],
        "tool_call_id": message.tool_call_id,
    }


def _message_from_json(data: Mapping[str, Any]) -> Message:
    return Message(
        role=data["role"],
        content=data.get("content", ""),
        name=data.get("name", ""),
        tool_calls=tuple(
            ToolCall(
                id=call["id"],
                type=call.get("type", "function"),
                index=call.get("index", 0),
                function=FunctionCall(
                    name=call["function"]["name"],
                    arguments=call["function"].get("arguments", ""),
                ),
            )
            for call in data.get("tool_calls", ())
        ),
        tool_call_id=data.get("tool_call_id", ""),
    )


def _tool_to_json(tool: Tool) -> Json:
    f = tool.function
    return {
        "type": tool.type,
        "function": {
            "name": f.name,
            "description": f.description,
            "parameters": dict(f.parameters),
        },
    }


def _tool_from_json(data: Mapping[str, Any]) -> Tool:
    f = data["function"]
    return Tool(
        type=data.get("type", "function"),
        function=FunctionDefinition(
            name=f["name"],
            description=f.get("description", ""),
            parameters=f.get("parameters", {}),
        ),
    )
