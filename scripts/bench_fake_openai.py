"""The gateway benchmark's upstream: a lean fake of OpenAI's chat completions endpoint.

    python -m scripts.bench_fake_openai --port N

Every gateway in `bench_gateways` calls this one server, so its cost is the same for all of
them; it is kept as small as it can be so that the machine's two cores go to the gateways, not
to the fake. It parses HTTP/1.1 with httptools (keep-alive, bodies by Content-Length or
chunked) and answers `POST .../chat/completions` at once with a fixed small completion (12
prompt tokens, 5 completion tokens): one JSON body, or with `"stream": true` a server-sent
event stream of five chunks, a usage chunk when `stream_options.include_usage` asks for one,
and `data: [DONE]`. Anything else is a 404. It never sleeps: the benchmark measures what each
gateway adds, not a provider's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import time
from typing import Any, cast

import httptools
import uvloop

PROMPT_TOKENS, COMPLETION_TOKENS = 12, 5
WORDS = ("Paris", " is", " the", " capital", ".")


def completion(model: str) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(WORDS)},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(),
    }
    return json.dumps(body).encode()


def _usage() -> dict[str, int]:
    total = PROMPT_TOKENS + COMPLETION_TOKENS
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": total,
    }


def stream_events(model: str, include_usage: bool) -> list[bytes]:
    """The SSE events of a streamed completion, each `data: ...\\n\\n`."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": int(time.time())}
    chunks: list[dict[str, Any]] = []
    for i, word in enumerate(WORDS):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        chunks.append({"index": 0, "delta": delta, "finish_reason": None})
    chunks.append({"index": 0, "delta": {}, "finish_reason": "stop"})
    events = [base | {"model": model, "choices": [c]} for c in chunks]
    if include_usage:
        events.append(base | {"model": model, "choices": [], "usage": _usage()})
    out = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    return [*out, b"data: [DONE]\n\n"]


def _head(status: str, content_type: str, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"content-type: {content_type}"]
    lines.append(
        f"content-length: {length}" if length is not None else "transfer-encoding: chunked"
    )
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(url: bytes, method: bytes, body: bytes) -> bytes:
    """The whole response to one request, as bytes ready for the socket."""
    if method != b"POST" or not url.split(b"?")[0].endswith(b"/chat/completions"):
        message = b'{"error": {"message": "not found", "type": "invalid_request_error"}}'
        return _head("404 Not Found", "application/json", len(message)) + message
    try:
        request = json.loads(body)
        model = str(request.get("model", "bench"))
    except (ValueError, AttributeError):
        message = b'{"error": {"message": "body is not JSON", "type": "invalid_request_error"}}'
        return _head("400 Bad Request", "application/json", len(message)) + message
    if not request.get("stream"):
        payload = completion(model)
        return _head("200 OK", "application/json", len(payload)) + payload
    include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
    parts = [_head("200 OK", "text/event-stream", None)]
    for event in stream_events(model, include_usage):
        parts.append(f"{len(event):x}\r\n".encode() + event + b"\r\n")
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; httptools calls the on_* methods as bytes are fed in."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method()
        response = answer(self._url, method, b"".join(self._body))
        self._url, self._body = b"", []
        if self._transport is not None:
            self._transport.write(response)
            if not self._parser.should_keep_alive():
                self._transport.close()


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


async def serve(host: str, port: int) -> None:
    sock = listening_socket(host, port)
    server = await asyncio.get_running_loop().create_server(_Connection, sock=sock, backlog=1024)
    bound_host, bound_port = sock.getsockname()[:2]
    print(f"fake openai upstream at http://{bound_host}:{bound_port}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
