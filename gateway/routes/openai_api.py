"""The OpenAI-compatible routes: `POST /v1/chat/completions`, `GET /v1/models` and
`POST /v1/embeddings`, each needing a key with the `inference` scope.

Every answer, errors included, carries the gateway's `x-request-id`. Failures are OpenAI's
error body with the status its clients expect (`gateway.openai.errors`); anything unexpected is
logged by its type and answered as the fixed 500, so internals never reach a client.

Embeddings: the router has no embeddings RPC yet, so no configured provider can serve one;
`/v1/embeddings` answers 404 saying so (after authentication, so an anonymous caller learns
nothing), which the SDKs raise as `NotFoundError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.keys.scoping import INFERENCE
from gateway.openai.errors import INVALID_REQUEST, OpenAIError, to_openai_error
from gateway.openai.json_body import decode_body
from gateway.openai.responses import model_list
from gateway.openai.sse import MEDIA_TYPE, SSE_HEADERS
from gateway.pipeline.auth import Authenticator
from gateway.pipeline.catalogue import Catalogue
from gateway.pipeline.chat import REQUEST_ID_HEADER, Caller, ChatPipeline, Streaming
from gateway.pipeline.request_ids import client_request_id, new_request_id

log = logging.getLogger("gateway.routes.openai")

EMBEDDINGS_UNSUPPORTED = (
    "Embeddings are not supported by any configured provider: this gateway serves chat "
    "completions only."
)

Handler = Callable[[Request, str], Awaitable[Response]]


class OpenAIRoutes:
    def __init__(
        self, auth: Authenticator, pipeline: ChatPipeline, catalogue: Catalogue, *, created: int
    ) -> None:
        self._auth = auth
        self._pipeline = pipeline
        self._catalogue = catalogue
        self._created = created

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", _answered(self.chat_completions), methods=["POST"]),
            Route("/v1/models", _answered(self.models), methods=["GET"]),
            Route("/v1/embeddings", _answered(self.embeddings), methods=["POST"]),
        ]

    async def chat_completions(self, request: Request, request_id: str) -> Response:
        key = await self._auth.key(request.headers, INFERENCE)
        client_id = client_request_id(request.headers.get(REQUEST_ID_HEADER))
        body = decode_body(await request.body())
        answer = await self._pipeline.run(body, Caller(key, request_id, client_id))
        if isinstance(answer, Streaming):
            headers = {**SSE_HEADERS, **answer.headers}
            return StreamingResponse(answer.frames, media_type=MEDIA_TYPE, headers=headers)
        return JSONResponse(answer.body, headers=answer.headers)

    async def models(self, request: Request, request_id: str) -> Response:
        await self._auth.key(request.headers, INFERENCE)
        listed = await self._catalogue.models()
        return JSONResponse(model_list(listed, self._created), headers=_id(request_id))

    async def embeddings(self, request: Request, request_id: str) -> Response:
        await self._auth.key(request.headers, INFERENCE)
        raise OpenAIError(
            404, EMBEDDINGS_UNSUPPORTED, type=INVALID_REQUEST, param="model", code="unsupported"
        )


def _answered(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint: a fresh request id for the handler, and every failure in OpenAI's shape."""

    async def endpoint(request: Request) -> Response:
        request_id = new_request_id()
        try:
            return await handler(request, request_id)
        except Exception as failure:  # every failure must be answered in OpenAI's shape
            error = to_openai_error(failure)
            if error.status >= 500 and not isinstance(failure, OpenAIError):
                log.warning("request %s failed: %s", request_id, type(failure).__name__)
            return error_response(error, request_id)

    return endpoint


def error_response(error: OpenAIError, request_id: str) -> JSONResponse:
    status, headers, body = error.to_response()
    return JSONResponse(body, status_code=status, headers={**headers, **_id(request_id)})


def _id(request_id: str) -> dict[str, str]:
    return {REQUEST_ID_HEADER: request_id}


__all__ = ["EMBEDDINGS_UNSUPPORTED", "OpenAIRoutes", "error_response"]
