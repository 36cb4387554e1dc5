"""Fault injection: refused unless enabled, validated, applied per deployment and provider."""

from __future__ import annotations

import random

import pytest

from services.router.catalogue import Deployment
from services.router.faults import Fault, FaultInjector
from services.router.providers.base import ProviderError
from svckit.errors import FailedPrecondition, InvalidArgument, NotFound

DEPLOYMENT = Deployment(name="primary", provider="openai", base_url="http://x")


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def injector(sleeps: Sleeps | None = None, seed: int = 1) -> FaultInjector:
    return FaultInjector(enabled=True, rng=random.Random(seed), sleep=sleeps or Sleeps())


def test_a_disabled_injector_refuses_every_change() -> None:
    faults = FaultInjector(enabled=False)
    with pytest.raises(FailedPrecondition) as caught:
        faults.set(Fault("deployments/primary", outage=True))
    assert caught.value.reason == "FAULTS_DISABLED"
    with pytest.raises(FailedPrecondition):
        faults.clear("deployments/primary")
    assert faults.list() == []


def test_bad_faults_name_every_bad_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        injector().set(Fault("primary", latency_seconds=-1, error_rate=2, timeout_rate=-0.1))
    assert [v.field for v in caught.value.violations] == [
        "fault.target",
        "fault.latency",
        "fault.error_rate",
        "fault.timeout_rate",
    ]


async def test_an_outage_fails_every_call_as_unreachable_and_retryable() -> None:
    faults = injector()
    faults.set(Fault("providers/openai", outage=True))
    with pytest.raises(ProviderError) as caught:
        await faults.before_call(DEPLOYMENT, 5)
    assert caught.value.retryable
    assert caught.value.reason == "UPSTREAM_UNREACHABLE"


async def test_latency_is_added_and_timeouts_wait_the_whole_timeout() -> None:
    sleeps = Sleeps()
    faults = injector(sleeps)
    faults.set(Fault("deployments/primary", latency_seconds=0.25, timeout_rate=1))
    with pytest.raises(ProviderError) as caught:
        await faults.before_call(DEPLOYMENT, 3)
    assert caught.value.reason == "UPSTREAM_TIMEOUT"
    assert sleeps.slept == [0.25, 3]


async def test_an_error_rate_fails_about_that_share_of_calls_with_a_503() -> None:
    faults = injector(seed=3)
    faults.set(Fault("deployments/primary", error_rate=0.3))
    statuses: list[int | None] = []
    for _ in range(2000):
        try:
            await faults.before_call(DEPLOYMENT, 1)
        except ProviderError as error:
            statuses.append(error.status)
    assert set(statuses) == {503}
    assert 500 < len(statuses) < 700


async def test_other_deployments_are_untouched_and_clearing_restores_calls() -> None:
    faults = injector()
    faults.set(Fault("deployments/other", outage=True))
    await faults.before_call(DEPLOYMENT, 1)  # no fault on this one
    faults.set(Fault("deployments/primary", outage=True))
    assert [f.target for f in faults.list()] == ["deployments/other", "deployments/primary"]
    faults.clear("deployments/primary")
    await faults.before_call(DEPLOYMENT, 1)
    with pytest.raises(NotFound):
        faults.clear("deployments/primary")
