"""What the confinement rules ask, answered from the gateway's key store and the cost service.

Whether a key is the tenant's comes from the key store; a budget's scope and owner are read from
the cost service as the platform would. Users need no lookup: a user is named with its tenant
(`users/<tenant>:<user>`), so the name itself says whose it is (see `confinement`).
"""

from __future__ import annotations

import grpc
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc

from gateway.keys.store import KeyStore
from gateway.routes.confinement import BudgetRef
from svckit.errors import NotFound


class StoredTenantData:
    def __init__(
        self, store: KeyStore, cost: cost_grpc.CostServiceStub, timeout_seconds: float = 5.0
    ) -> None:
        self._store = store
        self._cost = cost
        self._timeout = timeout_seconds

    async def owns_key(self, tenant: str, key_id: str) -> bool:
        try:
            await self._store.get_key(key_id, tenant=tenant)
        except NotFound:
            return False
        return True

    async def budget(self, budget_id: str) -> BudgetRef | None:
        request = cost_pb.GetBudgetRequest(budget_id=budget_id)
        try:
            answer = await self._cost.GetBudget(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        found = answer.status.budget
        return BudgetRef(scope=found.scope, owner=found.owner)


__all__ = ["StoredTenantData"]
