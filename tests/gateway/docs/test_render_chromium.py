"""The docs pages render an OpenAPI 3.1 document in a real browser (Debian's headless Chromium),
from the gateway's own assets, under the pages' Content-Security-Policy."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.backends import missing_backend
from tests.gateway.docs.served_docs import docs_app
from tests.router.upstreams.serving import serve_upstream

CHROMIUM = shutil.which("chromium")


@pytest.fixture(autouse=True)
def chromium_installed() -> None:
    """Skip where Debian's chromium is missing; CI installs it and requires it."""
    if CHROMIUM is None:
        missing_backend("needs Debian's chromium (apt-get install chromium)")


async def render(url: str, profile: Path) -> tuple[str, str]:
    """The DOM once the page settled, and the browser's console log."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return out.decode(), err.decode()


def csp_violations(console: str) -> list[str]:
    return [line for line in console.splitlines() if "Content Security Policy" in line]


async def test_swagger_ui_lists_every_route_with_no_csp_violation(tmp_path: Path) -> None:
    async with serve_upstream(docs_app()) as base_url:
        dom, console = await render(base_url.removesuffix("/v1") + "/api/docs", tmp_path)

    assert 'data-path="/v1/models"' in dom
    assert 'data-path="/v1/chat/completions"' in dom
    assert "Unable to render this definition" not in dom
    assert csp_violations(console) == []


async def test_redoc_lists_every_route(tmp_path: Path) -> None:
    async with serve_upstream(docs_app()) as base_url:
        dom, console = await render(base_url.removesuffix("/v1") + "/api/redoc", tmp_path)

    assert "List the models" in dom
    assert "Create a chat completion" in dom
    # ReDoc's injected <style> elements carry the page's nonce; only a few style attributes
    # (and its CDN logo) may be refused.
    assert not [line for line in csp_violations(console) if "script" in line.lower()]
