"""Who is calling, as the gateway's admin proxy tells the services.

The gateway authenticates admin REST calls and names the caller in two metadata entries of the
gRPC call it makes: the key's tenant and the key's id. Services use them for their logs and
audit, and the cost service to record which tenant created a budget. Other callers (services
inside the cluster) send neither, and get "". The services trust the gateway: these entries are
only as good as the network policy that keeps anyone else from calling the services directly.
"""

from __future__ import annotations

import grpc

CALLER_TENANT_METADATA = "x-switchboard-tenant"
CALLER_KEY_METADATA = "x-switchboard-key-id"


def caller_tenant(context: grpc.aio.ServicerContext) -> str:
    """The calling key's tenant, or "" when the gateway did not name one."""
    for name, value in context.invocation_metadata() or ():
        if name == CALLER_TENANT_METADATA and isinstance(value, str):
            return value
    return ""


__all__ = ["CALLER_KEY_METADATA", "CALLER_TENANT_METADATA", "caller_tenant"]
