"""ProviderRegistry: one provider per kind, one shared client, an injectable transport."""

from __future__ import annotations

import random

import httpx
import pytest

from services.router.catalogue import Deployment
from services.router.providers.anthropic import AnthropicProvider
from services.router.providers.base import UpstreamCall
from services.router.providers.mock import MockProvider
from services.router.providers.openai_compat import OpenAICompatibleProvider
from services.router.providers.registry import ProviderRegistry
from tests.router.provider_calls import question, upstream_call
from tests.router.upstreams import FakeUpstreamControl, fake_openai_app, serve_upstream


class CountingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that counts what passes through it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests = 0
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


async def test_each_kind_gets_its_provider() -> None:
    registry = ProviderRegistry(trust_env=False)
    try:
        kinds = {
            kind: type(registry.for_deployment(Deployment(name="d", provider=kind, base_url="x")))
            for kind in ("openai", "anthropic", "mock")
        }
        assert kinds == {
            "openai": OpenAICompatibleProvider,
            "anthropic": AnthropicProvider,
            "mock": MockProvider,
        }
        assert registry.provider("openai") is registry.provider("openai")
    finally:
        await registry.aclose()


async def test_http_providers_share_the_injected_transport_until_aclose() -> None:
    transport = CountingTransport()
    registry = ProviderRegistry(transport=transport, mock_rng=random.Random(0))
    control = FakeUpstreamControl()
    async with serve_upstream(fake_openai_app(control)) as base_url:
        call = upstream_call(question(), base_url)
        provider = registry.for_deployment(call.deployment)
        await provider.complete(call)
        await provider.complete(call)
        await registry.aclose()
        with pytest.raises(RuntimeError):
            await provider.complete(call)
    assert transport.requests == 2
    assert transport.closed
    assert len(control.requests) == 2


async def test_the_mock_gets_the_injected_rng_and_sleep() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    registry = ProviderRegistry(mock_rng=random.Random(3), mock_sleep=sleep)
    deployment = Deployment(name="m", provider="mock", options={"latency_seconds": 0.5})
    await registry.for_deployment(deployment).complete(
        UpstreamCall(question(), deployment, None, 1.0)
    )
    await registry.aclose()
    assert waits == [0.5]
