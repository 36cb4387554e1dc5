"""The API docs pages: Swagger UI at `/api/docs`, ReDoc at `/api/redoc`, assets beneath.

Both pages load only same-origin files, and each answers with a strict Content-Security-Policy:
`default-src 'none'`, then only what the UI needs, from 'self':

- no inline script at all: each page's start-up script is a static file that reads the document's
  URL from a `data-spec-url` attribute;
- Swagger UI 5 needs `img-src data:` (its CSS draws icons as data: URIs) and nothing inline;
- ReDoc 2 injects `<style>` elements (styled-components): instead of 'unsafe-inline' the page
  gets a fresh nonce per response, its script tags carry it, and ReDoc stamps its styles with it
  (its `nonce` option). Its search index runs in a Web Worker made from a `blob:` URL, hence
  `worker-src blob:` (a blob can only come from a script the policy already allowed);
- `connect-src 'self'` lets the UIs fetch `/api/openapi.json` and Swagger UI's "Try it out" call
  the gateway, and nowhere else; `frame-ancestors 'none'` (and X-Frame-Options for old browsers)
  stops clickjacking; `base-uri 'none'` and `form-action 'self'` close the usual side doors.

Pages are `Cache-Control: no-store` because the nonce changes with every response.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route, Router

from gateway.docs.assets import AssetUrls, assets_app

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def content_security_policy(nonce: str, *, allow_blob_workers: bool) -> str:
    """The policy of one page; `nonce` covers its scripts and the styles its UI injects."""
    directives = [
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    if allow_blob_workers:
        directives.append("worker-src blob:")
    return "; ".join(directives)


@dataclass(frozen=True)
class DocsPages:
    """The two pages and the assets; `routes()` gives the Starlette routes to add to the app."""

    openapi_url: str = "/api/openapi.json"
    swagger_path: str = "/api/docs"
    redoc_path: str = "/api/redoc"
    title: str = "Switchboard API"
    nonce: Callable[[], str] = field(default=new_nonce)

    @property
    def static_path(self) -> str:
        return f"{self.swagger_path}/static"

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route(self.swagger_path, self.swagger, methods=["GET", "HEAD"]),
            Route(self.redoc_path, self.redoc, methods=["GET", "HEAD"]),
            Mount(self.static_path, app=assets_app()),
        ]

    def router(self) -> Router:
        return Router(routes=list(self.routes()))

    async def swagger(self, request: Request) -> HTMLResponse:
        nonce = self.nonce()
        urls = AssetUrls(self.static_path)
        body = _page(
            self.title,
            nonce,
            styles=[
                urls.vendored("swagger-ui-dist", "swagger-ui.css"),
                urls.own("docs.css"),
            ],
            root=f'<div id="swagger-ui" data-spec-url="{_attr(self.openapi_url)}"></div>',
            scripts=[
                urls.vendored("swagger-ui-dist", "swagger-ui-bundle.js"),
                urls.own("swagger-init.js"),
            ],
        )
        return _response(body, content_security_policy(nonce, allow_blob_workers=False))

    async def redoc(self, request: Request) -> HTMLResponse:
        nonce = self.nonce()
        urls = AssetUrls(self.static_path)
        body = _page(
            self.title,
            nonce,
            styles=[urls.own("docs.css")],
            root=f'<div id="redoc" data-spec-url="{_attr(self.openapi_url)}"></div>',
            scripts=[
                urls.vendored("redoc", "redoc.standalone.js"),
                urls.own("redoc-init.js"),
            ],
        )
        return _response(body, content_security_policy(nonce, allow_blob_workers=True))


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _page(title: str, nonce: str, *, styles: list[str], root: str, scripts: list[str]) -> str:
    links = "\n".join(f'  <link rel="stylesheet" href="{_attr(href)}">' for href in styles)
    tags = "\n".join(
        f'  <script src="{_attr(src)}" nonce="{_attr(nonce)}"></script>' for src in scripts
    )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{html.escape(title)}</title>
{links}
</head>
<body>
  {root}
{tags}
</body>
</html>
"""


def _response(body: str, policy: str) -> HTMLResponse:
    headers = {**SECURITY_HEADERS, "content-security-policy": policy}
    return HTMLResponse(body, headers=headers)
