"""The docs pages and their assets over real HTTP: headers, references, no other origin."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest

from gateway.docs.pages import DocsPages, content_security_policy
from tests.gateway.docs.served_docs import docs_app
from tests.router.upstreams.serving import serve_upstream

PAGES = ["/api/docs", "/api/redoc"]
EXTERNAL_URL = re.compile(r"https?://", re.IGNORECASE)


class References(HTMLParser):
    """Every src/href of the page and the nonce of each script tag."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.script_nonces: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.urls.append(str(found[name]))
        if tag == "script":
            self.script_nonces.append(found.get("nonce"))


def references(page: str) -> References:
    parser = References()
    parser.feed(page)
    return parser


async def get(base_url: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url.removesuffix("/v1")) as http:
        return await http.get(path)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with serve_upstream(docs_app()) as base_url:
        origin = base_url.removesuffix("/v1")
        async with httpx.AsyncClient(base_url=origin) as http:
            yield http


@pytest.mark.parametrize("path", PAGES)
async def test_page_has_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert not EXTERNAL_URL.search(policy)


@pytest.mark.parametrize("path", PAGES)
async def test_page_has_no_inline_script_and_scripts_carry_the_policys_nonce(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    page = references(response.text)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])

    assert nonce is not None
    assert page.script_nonces
    assert set(page.script_nonces) == {nonce.group(1)}
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text)
    assert "<style" not in response.text


async def test_each_response_gets_a_fresh_nonce(client: httpx.AsyncClient) -> None:
    first, second = await client.get("/api/docs"), await client.get("/api/docs")

    assert first.headers["content-security-policy"] != second.headers["content-security-policy"]


@pytest.mark.parametrize("path", PAGES)
async def test_page_names_no_other_origin(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert not EXTERNAL_URL.search(response.text)
    assert all(url.startswith("/api/docs/static/") for url in references(response.text).urls)


@pytest.mark.parametrize("path", PAGES)
async def test_every_referenced_asset_is_served_with_long_cache(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)

    for url in references(page.text).urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["x-content-type-options"] == "nosniff"
        kind = "javascript" if url.split("?")[0].endswith(".js") else "css"
        assert kind in asset.headers["content-type"], url


async def test_pages_point_at_the_openapi_document(client: httpx.AsyncClient) -> None:
    for path in PAGES:
        assert 'data-spec-url="/api/openapi.json"' in (await client.get(path)).text


async def test_vendored_licences_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/docs")
    bundle = next(u for u in references(page.text).urls if u.endswith("swagger-ui-bundle.js"))

    licence = await client.get(bundle.rsplit("/", 1)[0] + "/LICENSE")

    assert licence.status_code == 200
    assert "Apache License" in licence.text


async def test_missing_asset_is_404_without_long_cache(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/docs/static/nothing-here.js")

    assert response.status_code == 404
    assert "immutable" not in response.headers.get("cache-control", "")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_head_answers_without_a_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/redoc")

    assert response.status_code == 200
    assert response.content == b""
    assert "content-security-policy" in response.headers


async def test_injected_nonce_is_used() -> None:
    async with serve_upstream(docs_app(nonce=lambda: "fixed-nonce")) as base_url:
        response = await get(base_url, "/api/redoc")

    assert "'nonce-fixed-nonce'" in response.headers["content-security-policy"]
    assert 'nonce="fixed-nonce"' in response.text


async def test_router_serves_the_same_routes() -> None:
    app = DocsPages().router()
    async with serve_upstream(app) as base_url:
        assert (await get(base_url, "/api/docs")).status_code == 200
        assert (await get(base_url, "/api/redoc")).status_code == 200


def test_only_redoc_may_start_blob_workers() -> None:
    assert "worker-src blob:" in content_security_policy("n", allow_blob_workers=True)
    assert "worker-src" not in content_security_policy("n", allow_blob_workers=False)
