"""Routing strategies: the order in which a model's deployments are tried.

Every strategy returns all the deployments, best first, so the rest of the list is the fallback
chain; the router skips those whose circuit is open.

- ordered: as listed in the catalogue (primary, then fallbacks).
- weighted: a weighted random order (without replacement), so weights split the traffic and
  the others still back it up. Weight 0 deployments only ever serve as fallbacks.
- lowest_latency: by this replica's smoothed latency; a deployment not yet measured goes first
  so that it gets measured.
- least_in_flight: by this replica's calls in flight; ties keep the catalogue's order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from services.router.catalogue import Deployment, ModelRoute, Strategy
from services.router.deployment_stats import DeploymentStats

Order = Callable[[Sequence[Deployment], DeploymentStats, random.Random], list[Deployment]]


def ordered(
    deployments: Sequence[Deployment], _: DeploymentStats, __: random.Random
) -> list[Deployment]:
    return list(deployments)


def weighted(
    deployments: Sequence[Deployment], _: DeploymentStats, rng: random.Random
) -> list[Deployment]:
    remaining = [d for d in deployments if d.weight > 0]
    chosen: list[Deployment] = []
    while remaining:
        pick = rng.choices(remaining, weights=[d.weight for d in remaining])[0]
        chosen.append(pick)
        remaining.remove(pick)
    return chosen + [d for d in deployments if d.weight == 0]


def lowest_latency(
    deployments: Sequence[Deployment], stats: DeploymentStats, _: random.Random
) -> list[Deployment]:
    def key(d: Deployment) -> float:
        latency = stats.latency(d.name)
        return -1.0 if latency is None else latency

    return sorted(deployments, key=key)  # stable: ties keep the catalogue's order


def least_in_flight(
    deployments: Sequence[Deployment], stats: DeploymentStats, _: random.Random
) -> list[Deployment]:
    return sorted(deployments, key=lambda d: stats.in_flight(d.name))


STRATEGIES: dict[Strategy, Order] = {
    "ordered": ordered,
    "weighted": weighted,
    "lowest_latency": lowest_latency,
    "least_in_flight": least_in_flight,
}


def plan(route: ModelRoute, stats: DeploymentStats, rng: random.Random) -> list[Deployment]:
    """The deployments of `route` in the order to try them."""
    return STRATEGIES[route.strategy](route.deployments, stats, rng)
