"""The gRPC face of the Envoy API: `envoy.service.ratelimit.v3.RateLimitService`.

Thin on purpose: convert the request, call the decider, convert the decision. Errors are raised
as `svckit.errors` exceptions and turned into statuses by the service kit's interceptor:
INVALID_ARGUMENT for bad input, FAILED_PRECONDITION before any config loaded, UNAVAILABLE when
the counter store is down (Envoy's `failure_mode_deny` then decides whether traffic passes).
"""

from __future__ import annotations

from typing import Any

import grpc
from envoy.service.ratelimit.v3 import rls_pb2_grpc

from services.ratelimit.envoy.decision import RateLimitDecider
from services.ratelimit.envoy.wire import request_from_proto, response_to_proto


class EnvoyRateLimitServicer(rls_pb2_grpc.RateLimitServiceServicer):
    """Serves `ShouldRateLimit` on grpc.aio; register with `add_to_server`."""

    def __init__(self, decider: RateLimitDecider) -> None:
        self._decider = decider

    async def ShouldRateLimit(
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        decision = await self._decider.decide(request_from_proto(request))
        return response_to_proto(decision)

    def add_to_server(self, server: grpc.aio.Server) -> None:
        rls_pb2_grpc.add_RateLimitServiceServicer_to_server(self, server)
