"""The real gateway's Swagger UI page (`/api/docs`), rendered by headless Chromium, lists every
operation of the gateway's own `/api/openapi.json`: each method and path, none missing.

The whole suite runs in the test's process (`running_stack`), so the page, its assets and the
document come from the gateway as deployed. Swagger UI's default `docExpansion` ("list") shows
every tag's operations without a click, each as an `opblock-<method>` block whose summary path
carries the path in `data-path`.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import httpx

from tests.gateway.docs.test_render_chromium import chromium_installed, csp_violations, render
from tests.gateway.pipeline.stack import running_stack

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


class Operations(HTMLParser):
    """The (method, path) of each operation block in a Swagger UI DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[tuple[str, str]] = set()
        self._method: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if "opblock" in classes:
            methods = [c.removeprefix("opblock-") for c in classes]
            self._method = next((m for m in methods if m in METHODS), None)
        path = attributes.get("data-path")
        if "opblock-summary-path" in classes and path and self._method:
            self.found.add((self._method, path))


def operations_in(dom: str) -> set[tuple[str, str]]:
    parser = Operations()
    parser.feed(dom)
    return parser.found


def documented(document: dict[str, dict[str, dict[str, object]]]) -> set[tuple[str, str]]:
    return {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


async def test_swagger_ui_lists_every_operation_of_the_gateway(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, httpx.AsyncClient() as http:
        document = (await http.get(f"{stack.origin}/api/openapi.json")).json()
        dom, console = await render(f"{stack.origin}/api/docs", tmp_path / "profile")

    expected = documented(document)
    assert len(expected) > 40
    assert operations_in(dom) == expected
    assert "Unable to render this definition" not in dom
    assert csp_violations(console) == []


__all__ = ["chromium_installed"]
