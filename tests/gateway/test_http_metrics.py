"""The gateway counts every response it sends, by method, route template and status, and times
it (gateway/http/metrics.py): through the whole stack over real HTTP, then read back from its own
`/metrics` as Prometheus would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from gateway.http.metrics import ROUTE_TEMPLATE, UNMATCHED, route_template
from tests.gateway.pipeline.stack import Stack, running_stack

CHAT = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_responses_are_counted_by_route_template_and_status(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.origin, timeout=10) as http:
        ok = await http.post("/v1/chat/completions", json=CHAT, headers=stack.auth("acme"))
        await http.post("/v1/chat/completions", json=CHAT, headers=stack.auth("acme"))
        no_key = await http.post("/v1/chat/completions", json=CHAT)
        missing = await http.get("/admin/v1/cost/budgets/b-404", headers=stack.auth("platform"))
        nowhere = await http.get("/no/such/place/42")
        odd = await http.request("TRACE", "/v1/models")
        metrics = (await http.get("/metrics/")).text
    assert (ok.status_code, no_key.status_code, nowhere.status_code) == (200, 401, 404)
    assert missing.status_code in (400, 404)  # a malformed or an unknown budget id

    counted = _samples(metrics, "gateway_http_requests_total")
    chat = "/v1/chat/completions"
    assert counted[(("method", "POST"), ("route", chat), ("status", "200"))] == 2
    assert counted[(("method", "POST"), ("route", chat), ("status", "401"))] == 1
    budget = "/admin/v1/cost/budgets/{budget_id}"
    assert (
        counted[(("method", "GET"), ("route", budget), ("status", str(missing.status_code)))] == 1
    )
    assert counted[(("method", "GET"), ("route", UNMATCHED), ("status", "404"))] == 1
    methods = {dict(labels)["method"] for labels in counted}
    assert odd.status_code >= 400
    assert "OTHER" in methods
    assert "TRACE" not in methods
    assert not any("42" in value or "b-404" in value for key in counted for _, value in key)

    timed = _samples(metrics, "gateway_http_request_duration_seconds_count")
    assert timed[(("method", "POST"), ("route", chat))] == 3


async def _metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app mounted without routes of its own, as the Prometheus exporter is."""


def test_the_route_label_comes_from_templates_never_from_raw_paths() -> None:
    route = Route("/v1/keys/{key_id}", lambda _: None)
    assert route_template({"route": route, "root_path": "/admin"}) == "/admin/v1/keys/{key_id}"
    transcoded = {ROUTE_TEMPLATE: "/v1/x/{id}", "root_path": "/admin"}
    assert route_template(transcoded) == "/admin/v1/x/{id}"
    served_by_mount = Mount("/metrics", app=_metrics_app)
    assert route_template({"route": served_by_mount, "root_path": "/metrics"}) == "/metrics"
    routing_mount = Mount("/admin", routes=[route])
    assert route_template({"route": routing_mount, "root_path": "/admin"}) == UNMATCHED
    assert route_template({"path": "/anything/7"}) == UNMATCHED
