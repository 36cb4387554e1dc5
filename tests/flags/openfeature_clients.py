"""The real OpenFeature SDK with `openfeature-provider-flagd` against a served flags service.

The provider is synchronous (it blocks while connecting, and works in threads of its own), so
tests drive it from a worker thread (`asyncio.to_thread`) while the service runs on the test's
event loop. Provider events are handed to the loop as they fire, so a test awaits an event
(with a generous bound) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.flagd import FlagdProvider
from openfeature.contrib.provider.flagd.config import CacheType, ResolverType
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.flag_evaluation import FlagEvaluationDetails

WAIT = 15.0
_domains = itertools.count()


@dataclass
class Client:
    """One OpenFeature client whose provider talks to the service."""

    mode: ResolverType
    client: OpenFeatureClient
    provider: FlagdProvider
    changes: asyncio.Queue[EventDetails] = field(default_factory=asyncio.Queue)

    async def evaluate(
        self, kind: str, key: str, default: Any, context: EvaluationContext | None = None
    ) -> FlagEvaluationDetails[Any]:
        method: Callable[..., FlagEvaluationDetails[Any]] = getattr(
            self.client, f"get_{kind}_details"
        )
        return await asyncio.to_thread(method, key, default, context)

    async def next_change(self) -> EventDetails:
        async with asyncio.timeout(WAIT):
            return await self.changes.get()


@asynccontextmanager
async def openfeature_client(
    mode: ResolverType, port: int, *, cache: CacheType = CacheType.DISABLED, **options: Any
) -> AsyncIterator[Client]:
    """A ready client (the provider connected and got its flags), shut down on exit."""
    loop = asyncio.get_running_loop()
    provider = FlagdProvider(
        resolver_type=mode,
        host="127.0.0.1",
        port=port,
        cache=cache,
        deadline_ms=2000,
        stream_deadline_ms=0,
        **options,
    )
    domain = f"flags-test-{next(_domains)}"
    await asyncio.to_thread(api.set_provider_and_wait, provider, domain)
    client = Client(mode, api.get_client(domain), provider)

    def changed(details: EventDetails) -> None:
        loop.call_soon_threadsafe(client.changes.put_nowait, details)

    client.client.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changed)
    try:
        yield client
    finally:
        client.client.remove_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, changed)
        await asyncio.to_thread(provider.shutdown)


__all__ = ["Client", "openfeature_client"]
