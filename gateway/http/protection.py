"""Middleware every gateway response goes through: a request size limit and security headers.

The size limit is enforced on the body as it arrives (it is read before the route runs), not
only on Content-Length, so a chunked upload cannot get past it; an oversized request gets 413
with a JSON error body in OpenAI's shape (the shape every client of the gateway parses).
Security headers: no MIME sniffing, no referrer, no framing; HSTS is left to the
TLS-terminating proxy in front.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


def _error(status: int, message: str, code: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    ).encode()
    return body, [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]


class ProtectionMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self._app = app
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max:
            await self._refuse(send)
            return
        body = await self._read_body(receive)
        if body is None:
            await self._refuse(send)
            return
        await self._app(scope, _replay(body, receive), _with_headers(send))

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None past the limit. Every route of the gateway reads its whole
        (JSON) body anyway, so reading it here first costs no streaming."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)  # the client went away; the app will see it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)

    async def _refuse(self, send: Send) -> None:
        body, headers = _error(
            413, f"request body larger than {self._max} bytes", "request_too_large"
        )
        await send(
            {"type": "http.response.start", "status": 413, "headers": [*headers, *SECURITY_HEADERS]}
        )
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the disconnect, when it comes

    return replay


def _with_headers(send: Send) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
        await send(message)

    return send_with_headers
