"""Fault injection for chaos tests: latency, errors, timeouts and outages per deployment or
provider, set at run time through the admin RPCs.

A fault acts inside each upstream attempt, before the provider is called, so it goes through
everything a real failure does: retries, the circuit breaker, fallback and the metrics. Faults
live in the replica that received the admin call (set them on every replica, or run one, for a
cluster-wide experiment); they are never persisted, so a restart clears them. The router refuses
the admin RPCs unless `ROUTER_FAULTS_ENABLED` is set.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.router.catalogue import Deployment
from services.router.providers.base import ProviderError
from svckit.errors import FailedPrecondition, NotFound, Violations

TARGET = re.compile(r"^(deployments|providers)/[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
MAX_LATENCY_SECONDS = 300.0

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Fault:
    target: str
    """"deployments/{name}" or "providers/{kind}"."""
    latency_seconds: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    outage: bool = False


def validate_fault(fault: Fault) -> None:
    """Raise InvalidArgument naming every bad field."""
    violations = Violations()
    if not TARGET.match(fault.target):
        violations.add("fault.target", 'must be "deployments/{name}" or "providers/{name}"')
    if not 0 <= fault.latency_seconds <= MAX_LATENCY_SECONDS:
        violations.add("fault.latency", f"must be between 0 and {MAX_LATENCY_SECONDS:g} s")
    for name, rate in (
        ("fault.error_rate", fault.error_rate),
        ("fault.timeout_rate", fault.timeout_rate),
    ):
        if not 0 <= rate <= 1:
            violations.add(name, "must be between 0 and 1")
    violations.raise_if_any()


class FaultInjector:
    def __init__(
        self, *, enabled: bool, rng: random.Random | None = None, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._enabled = enabled
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._faults: dict[str, Fault] = {}

    def set(self, fault: Fault) -> Fault:
        self._require_enabled()
        validate_fault(fault)
        self._faults[fault.target] = fault
        return fault

    def clear(self, target: str) -> None:
        self._require_enabled()
        if self._faults.pop(target, None) is None:
            raise NotFound(f"no fault is set on {target}", reason="FAULT_NOT_FOUND")

    def list(self) -> list[Fault]:
        return [self._faults[target] for target in sorted(self._faults)]

    async def before_call(self, deployment: Deployment, timeout_seconds: float) -> None:
        """Apply the faults of `deployment` and of its provider, if any: sleep or raise."""
        if not self._faults:
            return
        for target in (f"deployments/{deployment.name}", f"providers/{deployment.provider}"):
            fault = self._faults.get(target)
            if fault is not None:
                await self._apply(fault, deployment, timeout_seconds)

    async def _apply(self, fault: Fault, deployment: Deployment, timeout_seconds: float) -> None:
        where = f"deployment {deployment.name}"
        if fault.outage:
            raise ProviderError(
                f"{where}: unreachable (injected outage)",
                retryable=True,
                reason="UPSTREAM_UNREACHABLE",
            )
        if fault.latency_seconds:
            await self._sleep(fault.latency_seconds)
        if fault.timeout_rate and self._rng.random() < fault.timeout_rate:
            await self._sleep(timeout_seconds)
            raise ProviderError(
                f"{where}: timed out after {timeout_seconds:g} s (injected)",
                retryable=True,
                reason="UPSTREAM_TIMEOUT",
            )
        if fault.error_rate and self._rng.random() < fault.error_rate:
            raise ProviderError(
                f"{where}: upstream answered 503 (injected)",
                retryable=True,
                status=503,
                reason="UPSTREAM_ERROR",
            )

    def _require_enabled(self) -> None:
        if not self._enabled:
            raise FailedPrecondition(
                "fault injection is disabled on this router (ROUTER_FAULTS_ENABLED)",
                reason="FAULTS_DISABLED",
            )
