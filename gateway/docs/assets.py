"""The docs pages' browser assets, served by the gateway itself (no CDN: clusters are offline).

Two kinds of file live in `static/`:

- vendored bundles (Swagger UI 5, ReDoc 2), copied byte for byte by
  `scripts/vendor_docs_assets.py`, which records their versions, directories and sha256 sums in
  `static/manifest.json`; this module reads that manifest, so the versions have one source;
- our own small files in `static/switchboard/` (the UIs' start-up scripts and page CSS), which
  keep the pages free of inline script.

Every URL changes when its content does (a vendored directory is named after its version; our
own files carry `?v=<content hash>`), so assets are served with a year-long
`Cache-Control: public, max-age=31536000, immutable`, plus `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"
MANIFEST = STATIC_DIR / "manifest.json"
OWN_DIR = "switchboard"
LONG_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Vendored:
    """One vendored package as the manifest records it."""

    name: str
    version: str
    directory: str
    sha256: dict[str, str]


@cache
def vendored() -> dict[str, Vendored]:
    """Every vendored package by npm name, from the manifest."""
    raw = json.loads(MANIFEST.read_text())
    return {
        name: Vendored(name, entry["version"], entry["directory"], dict(entry["files"]))
        for name, entry in raw.items()
    }


@cache
def _own_version(file: str) -> str:
    return hashlib.sha256((STATIC_DIR / OWN_DIR / file).read_bytes()).hexdigest()[:12]


@dataclass(frozen=True)
class AssetUrls:
    """Builds the URLs of the assets under the mount point (`/api/docs/static`)."""

    base: str

    def vendored(self, package: str, file: str) -> str:
        entry = vendored()[package]
        if file not in entry.sha256:
            raise KeyError(f"{package} does not vendor {file}")
        return f"{self.base}/{entry.directory}/{file}"

    def own(self, file: str) -> str:
        return f"{self.base}/{OWN_DIR}/{file}?v={_own_version(file)}"


class CachedAssets:
    """Static files from `static/` with long-lived cache headers; ASGI app to mount."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._files = StaticFiles(directory=directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-content-type-options"] = "nosniff"
                if message["status"] in (200, 304):
                    headers["cache-control"] = LONG_CACHE
            await send(message)

        try:
            await self._files(scope, receive, send_with_headers)
        except HTTPException as error:  # StaticFiles raises its 404 and 405 instead of answering
            response = PlainTextResponse(
                error.detail, error.status_code, headers={"x-content-type-options": "nosniff"}
            )
            await response(scope, receive, send)


def assets_app() -> ASGIApp:
    return CachedAssets()
