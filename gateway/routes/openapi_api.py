"""`/api/openapi.json` and `/api/openapi.yaml`: one OpenAPI 3.1 document of everything the
gateway serves, built once at start-up. The transcoded admin routes come from the services'
descriptors (`gateway.transcoding.build_document`), their paths moved under the admin prefix;
the OpenAI routes and the gateway's key routes are merged in (`openapi_spec`). Every operation
takes the bearer key. The document and the docs pages (`/api/docs`, `/api/redoc`) are public:
they describe the API and hold no data.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from gateway.docs.pages import DocsPages
from gateway.routes.openapi_spec import (
    OPENAI_ERROR,
    OPENAI_ERROR_SCHEMA,
    SECURITY_SCHEMES,
    TAGS,
    key_paths,
    openai_paths,
)
from gateway.transcoding.http_rules import RouteTable
from gateway.transcoding.openapi import Document, build_document, merge, render_json, render_yaml

DESCRIPTION = (
    "Switchboard's gateway: the OpenAI-compatible API, and under /admin every admin RPC of its "
    "services (transcoded from their google.api.http annotations) plus its tenants and keys. "
    "Send `Authorization: Bearer sb-...`."
)


def gateway_document(table: RouteTable, admin_prefix: str) -> Document:
    admin = build_document(table, title="Switchboard API", description=DESCRIPTION)
    admin["paths"] = {f"{admin_prefix}{path}": ops for path, ops in admin["paths"].items()}
    document = merge(
        admin,
        {**openai_paths(), **key_paths(admin_prefix)},
        schemas={OPENAI_ERROR: OPENAI_ERROR_SCHEMA},
        tags=TAGS,
    )
    document["components"]["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = [{"bearer": []}]
    return document


def openapi_routes(document: Document) -> list[BaseRoute]:
    as_json = render_json(document)
    as_yaml = render_yaml(document)

    async def json_document(_: Request) -> Response:
        return Response(as_json, media_type="application/json")

    async def yaml_document(_: Request) -> Response:
        return Response(as_yaml, media_type="application/yaml")

    return [
        Route("/api/openapi.json", json_document, methods=["GET"]),
        Route("/api/openapi.yaml", yaml_document, methods=["GET"]),
        *DocsPages(openapi_url="/api/openapi.json").routes(),
    ]


__all__ = ["gateway_document", "openapi_routes"]
