"""The OpenAPI document the gateway serves lists every route it serves: each transcoded admin
RPC under /admin, the OpenAI routes and the gateway's key routes; YAML and JSON agree; the docs
pages point at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import yaml

from gateway.app import build
from gateway.pipeline.auth import Authenticator
from gateway.routes.keys_api import KeysApi
from gateway.settings import GatewaySettings
from gateway.transcoding.openapi import openapi_path
from tests.gateway.pipeline.stack import running_stack
from tests.router.upstreams.serving import serve_upstream

PEPPER = {"GATEWAY_KEY_PEPPER": "p" * 40}


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[str]:
    settings = GatewaySettings(sqlite_path=tmp_path / "gateway.sqlite3")
    gateway = build(settings, secrets=_Secrets())
    async with serve_upstream(gateway.app) as base:
        yield base.removesuffix("/v1")


class _Secrets:
    def get(self, name: str) -> str | None:
        return PEPPER.get(name)


async def test_the_document_lists_every_route(origin: str, tmp_path: Path) -> None:
    gateway = build(GatewaySettings(sqlite_path=tmp_path / "other.sqlite3"), secrets=_Secrets())
    async with httpx.AsyncClient() as http:
        document = (await http.get(f"{origin}/api/openapi.json")).json()

    served = {
        (route.http_method.lower(), "/admin" + openapi_path(route))
        for route in gateway.route_table.routes
    }
    served |= {
        ("post", "/v1/chat/completions"),
        ("get", "/v1/models"),
        ("post", "/v1/embeddings"),
    }
    keys_api = KeysApi(Authenticator(gateway.key_lookup), gateway.keys, gateway.key_lookup)
    for route in keys_api.routes():
        methods = (route.methods or set()) - {"HEAD"}
        served |= {(method.lower(), "/admin" + route.path) for method in methods}
    documented = {
        (method, path) for path, operations in document["paths"].items() for method in operations
    }
    assert documented == served
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/admin/v1/quota:check" in document["paths"]
    assert "/admin/v1/cost/spend" in document["paths"]


async def test_yaml_and_json_are_the_same_document(origin: str) -> None:
    async with httpx.AsyncClient() as http:
        as_json = await http.get(f"{origin}/api/openapi.json")
        as_yaml = await http.get(f"{origin}/api/openapi.yaml")

    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text) == as_json.json()


async def test_the_docs_pages_point_at_the_document(origin: str) -> None:
    async with httpx.AsyncClient() as http:
        swagger = await http.get(f"{origin}/api/docs")
        redoc = await http.get(f"{origin}/api/redoc")

    for page in (swagger, redoc):
        assert page.status_code == 200
        assert 'data-spec-url="/api/openapi.json"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_documented_operations_answer_through_the_gateway(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, httpx.AsyncClient() as http:
        document = (await http.get(f"{stack.origin}/api/openapi.json")).json()
        headers = stack.auth("platform")
        answers = {
            path: (await http.get(f"{stack.origin}{path}", headers=headers)).status_code
            for path, operations in document["paths"].items()
            if "get" in operations and "{" not in path and ":" not in path
        }

    assert answers
    assert all(status == 200 for status in answers.values()), answers
