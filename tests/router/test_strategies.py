"""Routing strategies: each returns every deployment, best first."""

from __future__ import annotations

import random
from collections import Counter

from services.router.catalogue import Deployment, ModelRoute, Strategy
from services.router.deployment_stats import DeploymentStats
from services.router.strategies import plan


def route(strategy: Strategy, *weights: int) -> ModelRoute:
    deployments = tuple(
        Deployment(name=f"d{i}", provider="mock", weight=w) for i, w in enumerate(weights)
    )
    return ModelRoute(name="m", strategy=strategy, deployments=deployments)


def names(deployments: list[Deployment]) -> list[str]:
    return [d.name for d in deployments]


def test_ordered_keeps_the_catalogue_order() -> None:
    assert names(plan(route("ordered", 1, 1, 1), DeploymentStats(), random.Random(1))) == [
        "d0",
        "d1",
        "d2",
    ]


def test_weighted_splits_first_choices_by_weight_and_keeps_the_rest_as_fallbacks() -> None:
    rng = random.Random(7)
    stats = DeploymentStats()
    firsts = Counter(plan(route("weighted", 3, 1, 0), stats, rng)[0].name for _ in range(4000))
    assert set(firsts) == {"d0", "d1"}  # weight 0 is never first
    assert 0.70 < firsts["d0"] / 4000 < 0.80
    order = plan(route("weighted", 3, 1, 0), stats, rng)
    assert sorted(names(order)) == ["d0", "d1", "d2"]
    assert order[-1].name == "d2"


def test_lowest_latency_tries_unmeasured_deployments_first_then_the_fastest() -> None:
    stats = DeploymentStats(smoothing=1.0)
    stats.observe_latency("d0", 0.5)
    stats.observe_latency("d2", 0.1)
    assert names(plan(route("lowest_latency", 1, 1, 1), stats, random.Random())) == [
        "d1",
        "d2",
        "d0",
    ]


def test_least_in_flight_prefers_the_idlest_and_ties_keep_the_order() -> None:
    stats = DeploymentStats()
    with stats.calling("d0"), stats.calling("d0"), stats.calling("d1"):
        assert names(plan(route("least_in_flight", 1, 1, 1), stats, random.Random())) == [
            "d2",
            "d1",
            "d0",
        ]
    assert stats.in_flight("d0") == 0
    assert names(plan(route("least_in_flight", 1, 1, 1), stats, random.Random())) == [
        "d0",
        "d1",
        "d2",
    ]


def test_latency_is_smoothed() -> None:
    stats = DeploymentStats(smoothing=0.5)
    assert stats.latency("d0") is None
    stats.observe_latency("d0", 1.0)
    stats.observe_latency("d0", 0.0)
    assert stats.latency("d0") == 0.5
