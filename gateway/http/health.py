"""`/health/live` (the process answers) and `/health/ready` (every downstream service answers
its gRPC health as SERVING), for Kubernetes' probes and load balancers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.downstream import Downstreams


def health_routes(downstreams: Downstreams) -> list[Route]:
    async def live(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> JSONResponse:
        services = await downstreams.readiness()
        ok = all(services.values())
        body = {"status": "ok" if ok else "unavailable", "services": services}
        return JSONResponse(body, status_code=200 if ok else 503)

    return [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
    ]
