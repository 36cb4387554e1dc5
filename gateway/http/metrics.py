"""The gateway's own traffic: HTTP requests by method, route and status, and their latency.

The services' gRPC metrics do not see what the gateway answers itself (a 401 for a bad key, a
429 from a tier, a 400 for a bad body), so the gateway counts every response it sends.

A plain ASGI middleware over the gateway's own registry. (starlette-exporter was considered: it
registers its metrics in the process-wide registry, and finds the route by matching every route
again; here each gateway has its own registry, and Starlette's router has already put the route
it matched in the scope.) The route label is the route's template
(`/admin/v1/cost/budgets/{budget_id}`), never the raw path, and an unknown method counts as
`OTHER`, so a caller cannot create label sets at will. A path no route matches counts as
`unmatched`. A streamed response is timed to its last chunk.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
ROUTE_TEMPLATE = "switchboard.route_template"
"""Scope key under which a router of our own names the template it matched."""
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
"""Seconds: from a rejected key (milliseconds) to a long streamed completion (minutes)."""


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gateway_http_requests",
            "HTTP responses the gateway sent, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "gateway_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        )


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the caller gets if the app raises before it answers

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_template(scope)
            self._metrics.requests.labels(method, route, str(status)).inc()
            self._metrics.duration.labels(method, route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The template of the route that answered, mount prefix included, or `unmatched`.

    A router of our own that matches by template (the admin transcoding) names it in
    `scope[ROUTE_TEMPLATE]`; otherwise Starlette's last match is in `scope["route"]`. A mount
    left there answered without an inner route: `/metrics`, or nothing matched inside it."""
    prefix = str(scope.get("root_path", ""))
    template = scope.get(ROUTE_TEMPLATE)
    if isinstance(template, str):
        return prefix + template
    route = scope.get("route")
    if isinstance(route, Route):
        return prefix + route.path
    if isinstance(route, Mount) and route.path and not route.routes:
        return prefix  # the mount's own app served it: the prefix is the whole route
    return UNMATCHED


__all__ = ["ROUTE_TEMPLATE", "HttpMetrics", "MetricsMiddleware", "route_template"]
