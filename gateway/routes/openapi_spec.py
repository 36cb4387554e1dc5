"""The hand-written routes' part of the OpenAPI document: the OpenAI-compatible routes and the
gateway's own tenant and key routes. Schemas are kept loose (`additionalProperties`) where
OpenAI's own specification is the reference, and name the fields the gateway reads or sends.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

OPENAI_TAG = "OpenAI-compatible"
KEYS_TAG = "Keys and tenants"
OPENAI_ERROR = "switchboard.gateway.OpenAIError"
_REF = "#/components/schemas/"


def _object(properties: Json, required: list[str] | None = None) -> Json:
    schema: Json = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        schema["required"] = required
    return schema


def _json(schema: Json, description: str = "OK") -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _openai_errors(*statuses: int) -> dict[str, Json]:
    schema = {"$ref": _REF + OPENAI_ERROR}
    return {str(status): _json(schema, "An error in OpenAI's shape.") for status in statuses}


def _admin_errors() -> dict[str, Json]:
    error = {"$ref": _REF + "switchboard.gateway.AdminError"}
    return {"default": _json(error, "An error: Google's JSON error shape.")}


OPENAI_ERROR_SCHEMA = _object(
    {
        "error": _object(
            {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
            ["message", "type"],
        )
    },
    ["error"],
)

_MESSAGE = _object(
    {"role": {"type": "string"}, "content": {"type": ["string", "array", "null"]}}, ["role"]
)
_PROMPT = _object(
    {
        "name": {"type": "string"},
        "label": {"type": "string", "description": "production when neither label nor version"},
        "version": {"type": "integer", "minimum": 1},
        "variables": {"type": "object"},
        "placeholders": {"type": "object", "additionalProperties": {"type": "array"}},
    },
    ["name"],
)
_PROMPT["description"] = (
    "Switchboard: a stored prompt to render. Its messages come first, then the request's own; "
    "its config's model parameters apply where the request sets none."
)
_CHAT_REQUEST = _object(
    {
        "model": {"type": "string", "description": "Required unless the stored prompt sets it."},
        "messages": {
            "type": "array",
            "items": _MESSAGE,
            "description": "Required unless a stored prompt is named.",
        },
        "prompt": _PROMPT,
        "stream": {"type": ["boolean", "null"]},
        "max_tokens": {"type": ["integer", "null"]},
        "max_completion_tokens": {"type": ["integer", "null"]},
        "temperature": {"type": ["number", "null"]},
        "top_p": {"type": ["number", "null"]},
        "stop": {"type": ["string", "array", "null"]},
        "tools": {"type": ["array", "null"]},
        "tool_choice": {"type": ["string", "object", "null"]},
        "stream_options": {"type": ["object", "null"]},
        "user": {"type": ["string", "null"]},
    },
)
_COMPLETION = _object(
    {
        "id": {"type": "string"},
        "object": {"type": "string"},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "object"}},
        "usage": {"type": "object"},
    }
)
_MODEL_LIST = _object(
    {"object": {"type": "string"}, "data": {"type": "array", "items": {"type": "object"}}}
)
_HEADERS = {
    name: {"schema": {"type": "string"}}
    for name in (
        "x-request-id",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
        "x-switchboard-cache",
    )
}


def _completion_answer() -> Json:
    answer = _json(_COMPLETION, "A chat.completion, or with stream: true server-sent events.")
    answer["content"]["text/event-stream"] = {"schema": {"type": "string"}}
    answer["headers"] = _HEADERS
    return answer


def openai_paths() -> dict[str, Json]:
    return {
        "/v1/chat/completions": {
            "post": {
                "operationId": "OpenAI_CreateChatCompletion",
                "tags": [OPENAI_TAG],
                "summary": "Create a chat completion (OpenAI-compatible).",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _CHAT_REQUEST}},
                },
                "responses": {
                    "200": _completion_answer(),
                    **_openai_errors(400, 401, 403, 404, 429, 500, 503),
                },
            }
        },
        "/v1/models": {
            "get": {
                "operationId": "OpenAI_ListModels",
                "tags": [OPENAI_TAG],
                "summary": "List the models of the router's catalogue.",
                "responses": {"200": _json(_MODEL_LIST), **_openai_errors(401, 403, 503)},
            }
        },
        "/v1/embeddings": {
            "post": {
                "operationId": "OpenAI_CreateEmbedding",
                "tags": [OPENAI_TAG],
                "summary": "Embeddings: not supported by any configured provider (404).",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": _openai_errors(401, 403, 404),
            }
        },
    }


_TENANT = _object(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "disabled": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
    }
)
_KEY = _object(
    {
        "id": {"type": "string"},
        "prefix": {"type": "string"},
        "tenant": {"type": "string"},
        "user": {"type": "string"},
        "tier": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string"}},
        "name": {"type": "string"},
        "state": {"type": "string", "enum": ["active", "revoked", "expired"]},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
    }
)
_NEW_KEY = _object(
    {
        "tenant": {"type": "string"},
        "user": {"type": "string"},
        "tier": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string", "enum": ["inference", "admin"]}},
        "name": {"type": "string"},
        "expires_at": {"type": "string", "format": "date-time"},
    },
    ["user", "scopes"],
)
_CREATED_KEY = {**_KEY, "properties": {**_KEY["properties"], "key": {"type": "string"}}}


def _operation(operation_id: str, summary: str, answer: Json, **extra: Any) -> Json:
    return {
        "operationId": operation_id,
        "tags": [KEYS_TAG],
        "summary": summary,
        "responses": {"200": _json(answer), **_admin_errors()},
        **extra,
    }


def _path_parameter(name: str) -> list[Json]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}]


def _body(schema: Json) -> Json:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def key_paths(prefix: str) -> dict[str, Json]:
    tenant_id = _path_parameter("tenant_id")
    key_id = _path_parameter("key_id")
    new_tenant = _object({"id": {"type": "string"}, "name": {"type": "string"}}, ["id"])
    listed_keys = {"type": "array", "items": _KEY}
    tenant_query = [{"name": "tenant", "in": "query", "schema": {"type": "string"}}]
    return {
        f"{prefix}/v1/tenants": {
            "post": _operation(
                "Gateway_CreateTenant",
                "Create a tenant (platform only).",
                _TENANT,
                requestBody=_body(new_tenant),
            ),
            "get": _operation(
                "Gateway_ListTenants", "List tenants.", {"type": "array", "items": _TENANT}
            ),
        },
        f"{prefix}/v1/tenants/{{tenant_id}}:disable": {
            "post": _operation(
                "Gateway_DisableTenant", "Disable a tenant's keys.", _TENANT, parameters=tenant_id
            )
        },
        f"{prefix}/v1/tenants/{{tenant_id}}:enable": {
            "post": _operation(
                "Gateway_EnableTenant", "Enable a tenant's keys.", _TENANT, parameters=tenant_id
            )
        },
        f"{prefix}/v1/keys": {
            "post": _operation(
                "Gateway_CreateKey",
                "Create an API key (shown this once).",
                _CREATED_KEY,
                requestBody=_body(_NEW_KEY),
            ),
            "get": _operation(
                "Gateway_ListKeys",
                "List API keys (no secrets).",
                listed_keys,
                parameters=tenant_query,
            ),
        },
        f"{prefix}/v1/keys/{{key_id}}": {
            "get": _operation("Gateway_GetKey", "Show an API key.", _KEY, parameters=key_id)
        },
        f"{prefix}/v1/keys/{{key_id}}:revoke": {
            "post": _operation("Gateway_RevokeKey", "Revoke an API key.", _KEY, parameters=key_id)
        },
    }


TAGS = [
    {"name": OPENAI_TAG, "description": "OpenAI's API: any OpenAI SDK works unchanged."},
    {"name": KEYS_TAG, "description": "The gateway's tenants and API keys."},
]

SECURITY_SCHEMES = {"bearer": {"type": "http", "scheme": "bearer", "description": "sb-... key"}}

__all__ = [
    "OPENAI_ERROR",
    "OPENAI_ERROR_SCHEMA",
    "SECURITY_SCHEMES",
    "TAGS",
    "key_paths",
    "openai_paths",
]
