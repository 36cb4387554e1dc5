"""The router's catalogue as the pipeline needs it: which provider and upstream model a public
model name is served by first, so the budget check can price the call before it happens.

Prices belong to a provider's model (`mock`/`mock-1`), while a request names the public model
(`mock-gpt`). The first deployment of the model's chain is the one normally serving it, so its
price is the estimate; a fallback to a dearer deployment is settled by the usage event anyway.
The catalogue is asked once per `ttl_seconds` (a cache), and a failure to ask leaves the hint
empty rather than failing the call: the cost service then prices by the public name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from switchboard.router.v1 import router_service_pb2 as pb
from switchboard.router.v1 import router_service_pb2_grpc as pb_grpc

log = logging.getLogger("gateway.pipeline.catalogue")


@dataclass(frozen=True)
class Served:
    provider: str = ""
    upstream_model: str = ""


class Catalogue:
    def __init__(
        self,
        router: pb_grpc.RouterServiceStub,
        *,
        ttl_seconds: float = 30.0,
        timeout_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._router = router
        self._ttl = ttl_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._models: dict[str, Served] = {}
        self._until = float("-inf")
        self._lock = asyncio.Lock()

    async def first_deployment(self, model: str) -> Served:
        if self._clock() >= self._until:
            async with self._lock:
                if self._clock() >= self._until:
                    await self._refresh()
        return self._models.get(model, Served())

    async def models(self) -> pb.ListModelsResponse:
        """The catalogue as the router lists it (for `/v1/models`), refreshing the cache."""
        listed: pb.ListModelsResponse = await self._router.ListModels(
            pb.ListModelsRequest(), timeout=self._timeout
        )
        self._store(listed)
        return listed

    async def _refresh(self) -> None:
        try:
            await self.models()
        except grpc.aio.AioRpcError as error:
            log.warning("catalogue unavailable: %s", error.code().name)
            self._until = self._clock() + min(self._ttl, 1.0)

    def _store(self, listed: pb.ListModelsResponse) -> None:
        self._models = {
            model.name: Served(model.deployments[0].provider, model.deployments[0].upstream_model)
            for model in listed.models
            if model.deployments
        }
        self._until = self._clock() + self._ttl


__all__ = ["Catalogue", "Served"]
