"""The switchboard.router.v1 servicer: convert, validate, call one domain object, convert back.

Jobs are served by `JobsServicerPart` (jobs_servicer.py) through the same class, so the service
registers once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import grpc
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

from services.router import convert
from services.router.breaker import BreakerState, CircuitBreakers
from services.router.catalogue import CatalogueError, CatalogueFile
from services.router.chat import ChatRequest
from services.router.deployment_stats import DeploymentStats
from services.router.faults import Fault, FaultInjector
from services.router.jobs.service import JobService
from services.router.jobs_servicer import JobsServicerPart
from services.router.router import Router
from services.router.validation import ledger_request_id, validate_chat_request
from svckit.errors import FailedPrecondition, InvalidArgument
from svckit.logs import request_id_var

SERVICE_NAME = "switchboard.router.v1.RouterService"

_CIRCUIT = {
    BreakerState.CLOSED: pb.CIRCUIT_STATE_CLOSED,
    BreakerState.OPEN: pb.CIRCUIT_STATE_OPEN,
    BreakerState.HALF_OPEN: pb.CIRCUIT_STATE_HALF_OPEN,
}


class RouterServicer(JobsServicerPart, pb_grpc.RouterServiceServicer):
    def __init__(
        self,
        *,
        router: Router,
        catalogue: CatalogueFile,
        breakers: CircuitBreakers,
        stats: DeploymentStats,
        faults: FaultInjector,
        max_cache_ttl_seconds: float,
        jobs: JobService,
    ) -> None:
        super().__init__(jobs, self.chat_request)
        self._router = router
        self._catalogue = catalogue
        self._breakers = breakers
        self._stats = stats
        self._faults = faults
        self._max_ttl = max_cache_ttl_seconds

    def chat_request(self, message: pb.CompleteRequest) -> ChatRequest:
        """The request as the router takes it (and a job stores it): validated, with a request id.

        An id in the request body must match `REQUEST_ID`, or validation refuses the call. Without
        one, the call's id (`x-request-id` metadata, else the interceptor's) is used only if it
        matches too; otherwise a fresh id replaces it rather than refusing a sound request. The
        interceptor accepts any 1-128 characters, but the cost ledger refuses a whole usage batch
        for one bad id, so no other id may reach a usage event.
        """
        request = convert.chat_request(message)
        validate_chat_request(request, self._max_ttl)
        if not request.context.request_id:
            request_id = ledger_request_id(request_id_var.get())
            request = replace(request, context=replace(request.context, request_id=request_id))
        return request

    async def Complete(
        self, request: pb.CompleteRequest, context: grpc.aio.ServicerContext
    ) -> pb.CompleteResponse:
        chat = self.chat_request(request)
        return convert.complete_response(await self._router.complete(chat), chat.model)

    async def StreamComplete(
        self, request: pb.StreamCompleteRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamCompleteResponse]:
        chat = self.chat_request(request.request)
        async for routed in self._router.stream(chat):
            yield convert.stream_response(routed, chat.model)

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        return convert.models(self._catalogue.current)

    async def ListDeployments(
        self, request: pb.ListDeploymentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDeploymentsResponse:
        pairs = self._catalogue.current.deployments()
        snapshots = await self._breakers.snapshots([d.name for _, d in pairs])
        statuses = []
        for model, deployment in pairs:
            snapshot = snapshots[deployment.name]
            status = pb.DeploymentStatus(
                model=model,
                deployment=deployment.name,
                circuit=_CIRCUIT[snapshot.state],
                in_flight=self._stats.in_flight(deployment.name),
            )
            if snapshot.retry_at is not None:
                status.retry_at.CopyFrom(convert.timestamp(snapshot.retry_at))
            latency = self._stats.latency(deployment.name)
            if latency is not None:
                status.observed_latency.CopyFrom(convert.duration(latency))
            statuses.append(status)
        return pb.ListDeploymentsResponse(deployments=statuses)

    async def ReloadCatalogue(
        self, request: pb.ReloadCatalogueRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReloadCatalogueResponse:
        try:
            catalogue = self._catalogue.reload()
        except CatalogueError as error:
            raise FailedPrecondition(
                f"the catalogue file was refused, the current one stays: {error}",
                reason="CATALOGUE_INVALID",
            ) from None
        return pb.ReloadCatalogueResponse(
            models=len(catalogue.models), deployments=len(catalogue.deployments())
        )

    async def SetFault(
        self, request: pb.SetFaultRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetFaultResponse:
        if not request.HasField("fault"):
            raise InvalidArgument.field("fault", "is required")
        fault = self._faults.set(_fault(request.fault))
        return pb.SetFaultResponse(fault=_fault_message(fault))

    async def ListFaults(
        self, request: pb.ListFaultsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListFaultsResponse:
        return pb.ListFaultsResponse(faults=[_fault_message(f) for f in self._faults.list()])

    async def ClearFault(
        self, request: pb.ClearFaultRequest, context: grpc.aio.ServicerContext
    ) -> pb.ClearFaultResponse:
        self._faults.clear(request.target)
        return pb.ClearFaultResponse()


def _fault(message: pb.Fault) -> Fault:
    return Fault(
        target=message.target,
        latency_seconds=convert.seconds(message.latency),
        error_rate=message.error_rate,
        timeout_rate=message.timeout_rate,
        outage=message.outage,
    )


def _fault_message(fault: Fault) -> pb.Fault:
    return pb.Fault(
        target=fault.target,
        latency=convert.duration(fault.latency_seconds),
        error_rate=fault.error_rate,
        timeout_rate=fault.timeout_rate,
        outage=fault.outage,
    )
