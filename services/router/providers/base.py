"""What every provider offers the router, and how a provider call fails.

A provider turns a `ChatRequest` into its wire format, calls one deployment, and turns the answer
back. It never retries and never falls back: those are the router's decisions, made from the
`ProviderError` it raises. Error messages name the deployment and the upstream status, never a
key or a request body.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from services.router.catalogue import Deployment
from services.router.chat import ChatRequest, Completion, StreamChunk


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    request: ChatRequest
    deployment: Deployment
    api_key: str | None
    """None when the deployment names no secret (a local vLLM or Ollama, the mock)."""
    timeout_seconds: float


class ProviderError(Exception):
    """A failed upstream call. `retryable` says whether another attempt may succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after_seconds: float | None = None,
        reason: str = "UPSTREAM_ERROR",
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        """The upstream's HTTP status; None for a connection failure or a timeout."""
        self.retry_after_seconds = retry_after_seconds
        """From the upstream's Retry-After header, when it sent one."""
        self.reason = reason
        """A short machine-readable cause: UPSTREAM_TIMEOUT, UPSTREAM_UNREACHABLE,
        UPSTREAM_RATE_LIMITED, UPSTREAM_ERROR, UPSTREAM_REJECTED (the request itself was refused),
        UPSTREAM_AUTH (the key was refused), UPSTREAM_BAD_RESPONSE."""


class Provider(Protocol):
    async def complete(self, call: UpstreamCall) -> Completion: ...

    def stream(self, call: UpstreamCall) -> AsyncGenerator[StreamChunk, None]:
        """Chunks as they arrive; the last carries the usage. Closing the iterator early (the
        caller went away) closes the upstream connection."""
        ...

    async def aclose(self) -> None: ...
