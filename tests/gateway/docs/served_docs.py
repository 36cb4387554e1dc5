"""A Starlette app with the docs pages and a small OpenAPI 3.1 document, for the docs tests."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.docs import DocsPages

OPENAPI_31 = {
    "openapi": "3.1.0",
    "info": {"title": "Switchboard test API", "version": "1"},
    "paths": {
        "/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "List the models",
                "responses": {"200": {"description": "The catalogue"}},
            }
        },
        "/v1/chat/completions": {
            "post": {
                "operationId": "createChatCompletion",
                "summary": "Create a chat completion",
                "responses": {"200": {"description": "A completion"}},
            }
        },
    },
}


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(OPENAPI_31)


def docs_app(nonce: Callable[[], str] | None = None) -> Starlette:
    pages = DocsPages() if nonce is None else DocsPages(nonce=nonce)
    return Starlette(routes=[Route("/api/openapi.json", openapi), *pages.routes()])
