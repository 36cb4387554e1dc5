"""What the confinement rules ask, answered from the gateway's key store and the cost service.

A user belongs to a tenant when one of the tenant's keys speaks for it (users have no table of
their own); a budget's scope is read from the cost service as the platform would.
"""

from __future__ import annotations

import grpc
from switchboard.cost.v1 import cost_service_pb2 as cost_pb
from switchboard.cost.v1 import cost_service_pb2_grpc as cost_grpc

from gateway.keys.store import KeyStore
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

    async def has_user(self, tenant: str, user: str) -> bool:
        return any(key.user == user for key in await self._store.list_keys(tenant))

    async def budget_scope(self, budget_id: str) -> str | None:
        request = cost_pb.GetBudgetRequest(budget_id=budget_id)
        try:
            answer = await self._cost.GetBudget(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        return str(answer.status.budget.scope)


__all__ = ["StoredTenantData"]
