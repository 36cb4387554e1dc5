"""The `switchboard.ratelimit.v1.RateLimitService` servicer: each RPC converts the request, calls
one limiter operation and converts the answer. Domain errors (`svckit.errors.ServiceError`)
propagate; the error interceptor turns them into statuses. A quota decision is data: a refused
check is a normal response with `allowed = false`.

Wiring:

    server = grpc.aio.server(interceptors=[...])
    pb_grpc.add_RateLimitServiceServicer_to_server(QuotaServicer(limiter), server)
"""

from __future__ import annotations

import grpc
from switchboard.ratelimit.v1 import ratelimit_service_pb2 as pb
from switchboard.ratelimit.v1 import ratelimit_service_pb2_grpc as pb_grpc

from services.ratelimit import quota_convert as convert
from services.ratelimit.limiter import Limiter

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["RateLimitService"].full_name


class QuotaServicer(pb_grpc.RateLimitServiceServicer):
    """Serves the limiter over gRPC (grpc.aio)."""

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter

    async def CheckQuota(
        self, request: pb.CheckQuotaRequest, context: grpc.aio.ServicerContext
    ) -> pb.CheckQuotaResponse:
        result = await self._limiter.check(
            convert.subjects_from_proto(request.subjects),
            request.model,
            request.estimated_tokens,
        )
        return convert.check_response(result)

    async def CommitReservation(
        self, request: pb.CommitReservationRequest, context: grpc.aio.ServicerContext
    ) -> pb.CommitReservationResponse:
        result = await self._limiter.commit(request.reservation_id, request.actual_tokens)
        return pb.CommitReservationResponse(
            reserved_tokens=result.reserved_tokens, actual_tokens=result.actual_tokens
        )

    async def ReleaseReservation(
        self, request: pb.ReleaseReservationRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReleaseReservationResponse:
        released = await self._limiter.release(request.reservation_id)
        return pb.ReleaseReservationResponse(released_tokens=released)

    async def GetUsage(
        self, request: pb.GetUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetUsageResponse:
        statuses = await self._limiter.usage(request.subject, request.tier, request.model)
        response = pb.GetUsageResponse()
        convert.add_limit_statuses(response.limits, statuses)
        return response

    async def ResetUsage(
        self, request: pb.ResetUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResetUsageResponse:
        deleted = await self._limiter.reset(request.subject)
        return pb.ResetUsageResponse(deleted_counters=deleted)

    async def SetOverride(
        self, request: pb.SetOverrideRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetOverrideResponse:
        override = await self._limiter.set_override(convert.override_from_proto(request.override))
        return pb.SetOverrideResponse(override=convert.override_to_proto(override))

    async def GetOverride(
        self, request: pb.GetOverrideRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOverrideResponse:
        override = await self._limiter.get_override(request.subject)
        return pb.GetOverrideResponse(override=convert.override_to_proto(override))

    async def DeleteOverride(
        self, request: pb.DeleteOverrideRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteOverrideResponse:
        await self._limiter.delete_override(request.subject)
        return pb.DeleteOverrideResponse()

    async def ListTiers(
        self, request: pb.ListTiersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTiersResponse:
        return pb.ListTiersResponse(tiers=convert.tiers_to_proto(self._limiter.list_tiers()))
