"""Which provider serves a deployment, and the one HTTP client they all share.

One `httpx.AsyncClient` per process: keep-alive connections to each upstream are reused across
calls and deployments, and `limits` bounds the sockets a router replica opens. Behind it, the
connections are split over a few pools filled in order (sharded_transport.py), which keeps the
pool's own bookkeeping cheap under load. The registry owns that client; the providers only
borrow it. A `transport` can be injected (tests, or an instrumented transport) and is used as
given; the mock gets its own `rng` and `sleep`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import httpx

from services.router.catalogue import Deployment, ProviderKind
from services.router.providers.anthropic import AnthropicProvider
from services.router.providers.base import Provider
from services.router.providers.mock import MockProvider
from services.router.providers.openai_compat import OpenAICompatibleProvider
from services.router.providers.sharded_transport import ShardedTransport

KEEPALIVE_EXPIRY_SECONDS = 4.0
"""Idle connections are dropped before common servers drop them (uvicorn after 5 s, others
later), so a call never goes out on a connection the server is closing at that moment."""

DEFAULT_LIMITS = httpx.Limits(
    max_connections=200, max_keepalive_connections=50, keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS
)


class ProviderRegistry:
    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
        trust_env: bool = True,
        mock_rng: random.Random | None = None,
        mock_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`trust_env` lets the client honour HTTP(S)_PROXY and NO_PROXY, as an egress proxy
        often requires; `clock` is the wall clock the HTTP providers read Retry-After dates by.
        Redirects are not followed: an API that redirects a POST is misconfigured."""
        self._client = httpx.AsyncClient(
            transport=transport or ShardedTransport(limits, trust_env=trust_env),
            limits=limits,  # what a proxy's transport gets (HTTPS_PROXY with trust_env)
            trust_env=trust_env,
            follow_redirects=False,
        )
        self._providers: dict[ProviderKind, Provider] = {
            "openai": OpenAICompatibleProvider(self._client, clock),
            "anthropic": AnthropicProvider(self._client, clock),
            "mock": MockProvider(mock_rng, mock_sleep),
        }

    def provider(self, kind: ProviderKind) -> Provider:
        return self._providers[kind]

    def for_deployment(self, deployment: Deployment) -> Provider:
        return self._providers[deployment.provider]

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        await self._client.aclose()
