"""Who is calling: the `Authorization: Bearer <key>` header resolved to an `ApiKey`.

The key goes through `CachedKeyLookup`, so most requests never touch the database. Every
failure is a 401 in OpenAI's shape whose message is the store's ("invalid API key", "API key
revoked", ...): none of them contains the presented key. A disabled tenant is also a 401 (the
key cannot be used at all), not a 403, which OpenAI keeps for a usable key lacking a right.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from gateway.keys.cache import CachedKeyLookup
from gateway.keys.model import ApiKey
from gateway.keys.scoping import require_scope
from gateway.openai.errors import OpenAIError, invalid_api_key, permission_denied
from svckit.errors import PermissionDenied, ServiceError, Unauthenticated

MISSING = (
    "You didn't provide an API key. Send it in an Authorization header: "
    "'Authorization: Bearer sb-...'."
)


def bearer_token(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class Authenticator:
    def __init__(self, lookup: CachedKeyLookup) -> None:
        self.lookup = lookup

    async def key(self, headers: Headers, scope: str) -> ApiKey:
        """The caller's key, holding `scope`; an OpenAIError (401 or 403) otherwise."""
        try:
            return await self.identify(headers, scope)
        except Unauthenticated as rejected:
            raise invalid_api_key(_sentence(rejected)) from None
        except PermissionDenied as refused:
            raise permission_denied(_sentence(refused)) from None

    async def identify(self, headers: Headers, scope: str) -> ApiKey:
        """The caller's key, holding `scope`; Unauthenticated or PermissionDenied otherwise
        (the admin API answers these in its own error shape)."""
        token = bearer_token(headers)
        if token is None:
            raise Unauthenticated(MISSING, reason="API_KEY_MISSING")
        try:
            key = await self.lookup.authenticate(token)
        except PermissionDenied as disabled:  # the key cannot be used at all: a 401
            raise Unauthenticated(disabled.message, reason=disabled.reason) from None
        require_scope(key, scope)
        return key


def _sentence(error: ServiceError) -> str:
    message = error.message
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


__all__ = ["MISSING", "Authenticator", "OpenAIError", "bearer_token"]
