"""REST over the real services: the transcoding router on a loopback socket in front of the
rate-limit, router and cost services served in process over gRPC (embedded backends).

Each REST answer is compared with the proto3 JSON mapping of the same call made over gRPC.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as rl_pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as rl_grpc
from switchboard.router.v1 import router_service_pb2 as router_pb
from switchboard.router.v1 import router_service_pb2_grpc as router_grpc

from gateway.transcoding.http_rules import Route, RouteTable, routes_of, routes_of_services
from gateway.transcoding.proxy import TranscodingRouter
from gateway.transcoding.request_mapping import message_class
from services.cost.app import build as build_cost
from services.cost.settings import CostSettings
from services.ratelimit.app import build as build_ratelimit
from services.ratelimit.settings import load as load_ratelimit
from services.router.app import build as build_router
from services.router.settings import RouterSettings
from svckit.testing import serving
from tests.ratelimit.fake_clock import FakeClock, utc
from tests.router.upstreams.serving import serve_upstream

from .test_http_rules import LIBRARY, SERVICES, sample_path

RATELIMIT = "switchboard.ratelimit.v1.RateLimitService"
ROUTER = "switchboard.router.v1.RouterService"
COST = "switchboard.cost.v1.CostService"
CATALOGUE = """
models:
  mock-gpt:
    strategy: ordered
    deployments:
      - {name: mock-primary, provider: mock, upstream_model: mock-1}
      - {name: mock-secondary, provider: mock, upstream_model: mock-1}
"""
NOW = utc(2025, 1, 6, 12, 0, 30)


@dataclass
class Suite:
    channels: dict[str, grpc.aio.Channel]
    ratelimit: rl_grpc.RateLimitServiceStub
    router: router_grpc.RouterServiceStub
    cost: cost_grpc.CostServiceStub


@pytest.fixture
async def suite(tmp_path: Path, key_prefix: str) -> AsyncIterator[Suite]:
    """The three services on port 0 with their embedded backends (memory and SQLite)."""
    models = tmp_path / "models.yaml"
    models.write_text(CATALOGUE)
    ratelimit = build_ratelimit(
        load_ratelimit({"RATELIMIT_KEY_PREFIX": key_prefix}), clock=FakeClock(NOW)
    )
    # No job workers: a submitted job stays queued, so its state cannot change under a test.
    router_settings = RouterSettings(
        grpc_host="127.0.0.1",
        models_file=models,
        sqlite_path=tmp_path / "router.sqlite3",
        faults_enabled=True,
        job_workers=0,
    )
    router = build_router(router_settings, environ={}, registry=CollectorRegistry())
    cost_settings = CostSettings(grpc_host="127.0.0.1", sqlite_path=tmp_path / "cost.sqlite3")
    cost = build_cost(cost_settings, environ={}, registry=CollectorRegistry())
    async with AsyncExitStack() as stack:
        channels = {}
        for name, app in ((RATELIMIT, ratelimit.app), (ROUTER, router.app), (COST, cost.app)):
            _, channels[name] = await stack.enter_async_context(serving(app))
        yield Suite(
            channels,
            rl_grpc.RateLimitServiceStub(channels[RATELIMIT]),
            router_grpc.RouterServiceStub(channels[ROUTER]),
            cost_grpc.CostServiceStub(channels[COST]),
        )


@pytest.fixture
def table() -> RouteTable:
    return routes_of_services(SERVICES)


@pytest.fixture
async def rest(suite: Suite, table: RouteTable) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the transcoding router served on a loopback socket."""
    app = TranscodingRouter(table, suite.channels)
    async with (
        serve_upstream(app) as base_url,
        httpx.AsyncClient(base_url=base_url.removesuffix("/v1")) as client,
    ):
        yield client


def mapped(message: Message) -> Any:
    """The proto3 JSON mapping the REST side promises (every field without presence printed)."""
    return json.loads(
        json.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))
    )


def violations(response: httpx.Response) -> list[dict[str, str]]:
    details = response.json()["error"]["details"]
    bad = [d for d in details if d["@type"].endswith("google.rpc.BadRequest")]
    return list(bad[0]["fieldViolations"]) if bad else []


# The rate-limit service ------------------------------------------------------------------------


async def test_list_tiers_over_rest_is_the_json_mapping_of_the_grpc_answer(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    response = await rest.get("/v1/tiers")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == mapped(await suite.ratelimit.ListTiers(rl_pb.ListTiersRequest()))


async def test_a_check_over_rest_counts_like_one_over_grpc(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    body = {"subjects": [{"name": "keys/k1", "tier": "free"}], "estimatedTokens": "7"}
    checked = await rest.post("/v1/quota:check", json=body)
    assert checked.status_code == 200
    assert checked.json()["allowed"] is True
    assert checked.json()["reservationExpireTime"] == "2025-01-06T12:10:30Z"
    usage = await rest.get("/v1/keys/k1/usage", params={"tier": "free"})
    grpc_usage = await suite.ratelimit.GetUsage(
        rl_pb.GetUsageRequest(subject="keys/k1", tier="free")
    )
    assert usage.json() == mapped(grpc_usage)
    per_minute = [
        limit
        for limit in usage.json()["limits"]
        if limit["kind"] == "LIMIT_KIND_REQUESTS_PER_MINUTE"
    ]
    assert [int(x["limit"]) - int(x["remaining"]) for x in per_minute] == [1]


async def test_an_override_round_trips_through_a_multi_segment_path(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    body = {"requestsPerDay": "5", "reason": "load test"}
    put = await rest.put("/v1/users/u1/override", json=body)
    assert put.status_code == 200
    assert put.json()["override"]["subject"] == "users/u1"
    # The same subject sent as one percent-encoded segment, as OpenAPI clients send it.
    got = await rest.get("/v1/users%2Fu1/override")
    grpc_got = await suite.ratelimit.GetOverride(rl_pb.GetOverrideRequest(subject="users/u1"))
    assert got.json() == mapped(grpc_got) == {"override": put.json()["override"]}
    deleted = await rest.delete("/v1/users/u1/override")
    assert (deleted.status_code, deleted.json()) == (200, {})
    missing = await rest.get("/v1/users/u1/override")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"


async def test_a_service_refusal_carries_its_status_and_field_violations(
    rest: httpx.AsyncClient,
) -> None:
    body = {"subjects": [{"name": "nobody", "tier": "free"}]}
    response = await rest.post("/v1/quota:check", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert [v["field"] for v in violations(response)] == ["subjects[0].name"]


# The router ----------------------------------------------------------------------------------


async def test_list_models_over_rest_is_the_json_mapping_of_the_grpc_answer(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    response = await rest.get("/v1/router/models")
    grpc_models = await suite.router.ListModels(router_pb.ListModelsRequest())
    assert response.status_code == 200
    assert response.json() == mapped(grpc_models)
    assert response.json()["models"][0]["name"] == "mock-gpt"


async def test_a_job_submitted_over_rest_reads_back_like_over_grpc(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    request = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
    submitted = await rest.post("/v1/router/jobs", json={"request": request})
    assert submitted.status_code == 200
    job_id = submitted.json()["job"]["jobId"]
    got = await rest.get(f"/v1/router/jobs/{job_id}")
    grpc_got = await suite.router.GetJob(router_pb.GetJobRequest(job_id=job_id))
    assert got.json() == mapped(grpc_got)
    assert got.json()["job"]["state"] == "JOB_STATE_QUEUED"
    cancelled = await rest.post(f"/v1/router/jobs/{job_id}:cancel")
    assert cancelled.json()["job"]["state"] == "JOB_STATE_CANCELLED"


async def test_an_unknown_job_is_404_with_the_services_message(rest: httpx.AsyncClient) -> None:
    response = await rest.get("/v1/router/jobs/no-such-job")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


async def test_a_fault_is_set_listed_and_cleared_by_its_target_path(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    put = await rest.put("/v1/router/faults/deployments/mock-primary", json={"errorRate": 0.5})
    assert put.status_code == 200
    assert put.json()["fault"]["target"] == "deployments/mock-primary"
    listed = await rest.get("/v1/router/faults")
    assert listed.json() == mapped(await suite.router.ListFaults(router_pb.ListFaultsRequest()))
    assert len(listed.json()["faults"]) == 1
    cleared = await rest.delete("/v1/router/faults/deployments/mock-primary")
    assert cleared.status_code == 200
    assert (await rest.get("/v1/router/faults")).json() == {"faults": []}


# The cost service -----------------------------------------------------------------------------


def _event(request_id: str, tenant: str, model: str) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "occurredAt": "2025-01-06T10:00:00Z",
        "tenant": tenant,
        "subject": f"users/{tenant}-u",
        "endpoint": "/v1/chat/completions",
        "model": model,
        "provider": "openai",
        "upstreamModel": "gpt-4o-mini",
        "inputTokens": "1000",
        "outputTokens": "500",
        "outcome": "success",
    }


@pytest.fixture
async def spend(rest: httpx.AsyncClient) -> None:
    events = [_event("r1", "t1", "m1"), _event("r2", "t1", "m2"), _event("r3", "t2", "m1")]
    recorded = await rest.post("/v1/cost/usage:record", json={"events": events})
    assert recorded.status_code == 200
    assert [r["recorded"] for r in recorded.json()["results"]] == [True, True, True]


SPEND_QUERY = [
    ("start", "2025-01-06T00:00:00Z"),
    ("end", "2025-01-07T00:00:00Z"),
    ("groupBy", "SPEND_DIMENSION_MODEL"),
    ("group_by", "SPEND_DIMENSION_TENANT"),
    ("tenant", "t1"),
]


def _spend_request() -> cost_pb.GetSpendRequest:
    request = cost_pb.GetSpendRequest(
        group_by=[cost_pb.SPEND_DIMENSION_MODEL, cost_pb.SPEND_DIMENSION_TENANT], tenant="t1"
    )
    request.start.FromJsonString("2025-01-06T00:00:00Z")
    request.end.FromJsonString("2025-01-07T00:00:00Z")
    return request


@pytest.mark.usefixtures("spend")
async def test_spend_with_query_parameters_is_the_json_mapping_of_the_grpc_answer(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    response = await rest.get("/v1/cost/spend", params=urlencode(SPEND_QUERY))
    assert response.status_code == 200
    assert response.json() == mapped(await suite.cost.GetSpend(_spend_request()))
    assert sorted(row["group"]["model"] for row in response.json()["rows"]) == ["m1", "m2"]


@pytest.mark.usefixtures("spend")
async def test_an_export_answers_the_http_body_raw_with_its_content_type(
    rest: httpx.AsyncClient, suite: Suite
) -> None:
    query = [(f"query.{name}", value) for name, value in SPEND_QUERY] + [("format", "csv")]
    response = await rest.get("/v1/cost/spend:export", params=urlencode(query))
    body = await suite.cost.ExportSpend(
        cost_pb.ExportSpendRequest(query=_spend_request(), format="csv")
    )
    assert response.status_code == 200
    assert response.content == body.data
    assert response.headers["content-type"].startswith(body.content_type)
    assert body.content_type.startswith("text/csv")


async def test_a_bad_query_parameter_is_refused_before_the_service_is_called(
    rest: httpx.AsyncClient,
) -> None:
    response = await rest.get("/v1/cost/spend", params={"start": "yesterday", "colour": "red"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert [v["field"] for v in violations(response)] == ["start", "colour"]


async def test_bad_json_is_a_400_naming_the_body(rest: httpx.AsyncClient) -> None:
    response = await rest.post("/v1/cost/budgets", content=b"{", headers={"content-type": "json"})
    assert response.status_code == 400
    assert violations(response)[0]["field"] == "body"


# Routing -------------------------------------------------------------------------------------


async def test_an_unknown_path_is_404_in_the_error_shape(rest: httpx.AsyncClient) -> None:
    response = await rest.get("/v1/nothing/here/at/all")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": 404,
        "status": "NOT_FOUND",
        "message": "no route for this path",
        "details": [],
    }


async def test_a_known_path_with_the_wrong_method_is_405_with_allow(
    rest: httpx.AsyncClient,
) -> None:
    response = await rest.patch("/v1/cost/budgets")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["status"] == "METHOD_NOT_ALLOWED"


def _is_routing_miss(response: httpx.Response) -> bool:
    if response.status_code == 405:
        return True
    return response.status_code == 404 and "no route" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "route", list(routes_of_services(SERVICES).routes), ids=lambda r: r.full_name
)
async def test_every_annotated_rpc_is_reachable_over_rest(
    rest: httpx.AsyncClient, route: Route
) -> None:
    response = await rest.request(route.http_method, sample_path(route))
    assert not _is_routing_miss(response)
    # The service answered: success, or one of its own refusals, never a gateway failure.
    assert response.status_code in (200, 400, 404, 409), response.text


# Metadata, mounting and construction ------------------------------------------------------------


@dataclass
class EchoServer:
    """A real gRPC server answering ListTiers with the call's metadata as tier names."""

    channel: grpc.aio.Channel
    seen: list[Sequence[tuple[str, str]]]


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    seen: list[Sequence[tuple[str, str]]] = []

    async def list_tiers(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        metadata = [(k, v) for k, v in context.invocation_metadata() or () if k.startswith("x-")]
        seen.append(metadata)
        tiers = [rl_pb.Tier(name=f"{k}={v}") for k, v in metadata]
        return rl_pb.ListTiersResponse(tiers=tiers).SerializeToString()

    handler = grpc.unary_unary_rpc_method_handler(list_tiers)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(RATELIMIT, {"ListTiers": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield EchoServer(channel, seen)
    await server.stop(None)


def _list_tiers(table: RouteTable) -> list[Route]:
    return [r for r in table.routes if r.method.name == "ListTiers"]


async def test_the_request_id_and_the_hooks_metadata_reach_the_service(
    echo: EchoServer, table: RouteTable
) -> None:
    async def metadata_for(request: Request) -> list[tuple[str, str]]:
        return [("x-tenant", request.headers.get("x-test-tenant", ""))]

    app = TranscodingRouter(
        _list_tiers(table), {RATELIMIT: echo.channel}, metadata_for=metadata_for
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get(
            "/v1/tiers", headers={"x-request-id": "req-1", "x-test-tenant": "t1"}
        )
        unsafe = await client.get("/v1/tiers", headers={"x-request-id": "x" * 200})
    assert [t["name"] for t in response.json()["tiers"]] == ["x-request-id=req-1", "x-tenant=t1"]
    assert [t["name"] for t in unsafe.json()["tiers"]] == ["x-tenant="]


async def test_a_synchronous_hook_is_accepted(echo: EchoServer, table: RouteTable) -> None:
    app = TranscodingRouter(
        _list_tiers(table), {RATELIMIT: echo.channel}, metadata_for=lambda _: [("x-a", "1")]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.get("/v1/tiers")
    assert response.json() == {"tiers": [{"name": "x-a=1", "models": []}]}


async def test_mounted_under_a_prefix_the_router_matches_below_it(
    echo: EchoServer, table: RouteTable
) -> None:
    router = TranscodingRouter(_list_tiers(table), {RATELIMIT: echo.channel})
    app = Starlette(routes=[Mount("/admin", app=router)])
    async with serve_upstream(app) as base_url, httpx.AsyncClient() as client:
        response = await client.get(base_url.removesuffix("/v1") + "/admin/v1/tiers")
    assert (response.status_code, response.json()) == (200, {"tiers": []})


async def test_an_unreachable_service_is_503(table: RouteTable) -> None:
    async with grpc.aio.insecure_channel("127.0.0.1:1") as channel:
        app = TranscodingRouter(_list_tiers(table), {RATELIMIT: channel}, timeout_seconds=5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            response = await client.get("/v1/tiers")
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"


def test_a_route_whose_service_has_no_channel_fails_at_construction(table: RouteTable) -> None:
    with pytest.raises(ValueError, match=r"no gRPC channel for switchboard\.cost\.v1\.CostService"):
        TranscodingRouter(table, {RATELIMIT: None, ROUTER: None})


async def test_a_non_http_scope_is_ignored(table: RouteTable) -> None:
    app = TranscodingRouter([], {})
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert sent == []


# Library routes: response_body and custom methods, served by a real generic gRPC server ---------

LIBRARY_SERVICE = "library.v1.LibraryService"


@pytest.fixture
async def library_client() -> AsyncIterator[httpx.AsyncClient]:
    book_type = message_class(LIBRARY.file.message_types_by_name["Book"])
    shelf_type = message_class(LIBRARY.file.message_types_by_name["Shelf"])

    async def list_editions(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        asked = book_type.FromString(request)
        reply = book_type(name="ignored")
        reply.editions.add(name=f"{asked.shelf.id}-first", pages=120)  # type: ignore[attr-defined]
        return reply.SerializeToString()

    async def search_books(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        shelf = shelf_type(id="s")
        shelf.books.add(name=book_type.FromString(request).name)  # type: ignore[attr-defined]
        return shelf.SerializeToString()

    handlers = {
        "ListEditions": grpc.unary_unary_rpc_method_handler(list_editions),
        "SearchBooks": grpc.unary_unary_rpc_method_handler(search_books),
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(LIBRARY_SERVICE, handlers)]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        app = TranscodingRouter(routes_of(LIBRARY), {LIBRARY_SERVICE: channel})
        async with (
            serve_upstream(app) as base_url,
            httpx.AsyncClient(base_url=base_url.removesuffix("/v1")) as client,
        ):
            yield client
    await server.stop(None)


async def test_a_response_body_route_answers_only_that_field(
    library_client: httpx.AsyncClient,
) -> None:
    response = await library_client.get("/v1/shelves/s7/editions")
    assert response.status_code == 200
    assert response.json() == [
        {
            "name": "s7-first",
            "pages": "120",
            **{k: v for k, v in response.json()[0].items() if k not in ("name", "pages")},
        }
    ]
    assert response.json()[0]["genres"] == []


async def test_a_custom_http_method_is_served(library_client: httpx.AsyncClient) -> None:
    response = await library_client.request("SEARCH", "/v1/books", params={"name": "dune"})
    assert response.status_code == 200
    assert [book["name"] for book in response.json()] == ["dune"]
