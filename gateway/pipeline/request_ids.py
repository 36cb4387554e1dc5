"""Request ids: the gateway's own for every call, the client's kept for correlation.

The id in the router's `CallContext` is the idempotency key of the call's usage event and the
id of its budget reservation, so it must be unique per call. A client's `x-request-id` cannot
be trusted to be: one replayed id would deduplicate later calls out of the ledger. So, as
api.openai.com does, the response's `x-request-id` is always the gateway's; a well-formed id
sent by the client travels alongside as `x-client-request-id` (gRPC metadata and response).
"""

from __future__ import annotations

import re
import secrets

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def client_request_id(value: str | None) -> str | None:
    """The client's id when it is short and plain enough to log and forward; else None."""
    if value is None or not _CLIENT_ID.match(value):
        return None
    return value


__all__ = ["client_request_id", "new_request_id"]
