"""The prod overlay: managed backends, autoscaling and disruption budgets, and NetworkPolicies
that let only the gateway reach the services, only the services reach Redis and PostgreSQL,
Prometheus scrape the metrics ports, and only the router and the cost service (its alert
webhooks) reach public addresses, on 443."""

from __future__ import annotations

import ipaddress

import pytest

from tests.deploy.manifests import (
    SERVICES,
    WORKLOADS,
    Object,
    main_container,
    named,
    of_kind,
    render,
)
from tests.deploy.network_policy import External, Pod, may_connect

NAMESPACE = "switchboard"
GRPC = {"ratelimit": 50051, "cost": 50052, "router": 50053, "flags": 50054, "prompts": 50055}
METRICS = {"ratelimit": 9051, "cost": 9052, "router": 9053, "flags": 9054, "prompts": 9055}
PROMETHEUS = Pod({"app.kubernetes.io/name": "prometheus"}, "monitoring")


def _pod(name: str) -> Pod:
    return Pod(
        {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "switchboard"}, NAMESPACE
    )


def _policies() -> list[Object]:
    return of_kind(render("prod"), "NetworkPolicy")


def _inside(policy_name: str, port: int) -> External:
    """An address inside the CIDR the named policy allows for `port` (the managed backend)."""
    policy = named(render("prod"), "NetworkPolicy", policy_name)
    for rule in policy["spec"]["egress"]:
        if any(p["port"] == port for p in rule["ports"]):
            network = ipaddress.ip_network(rule["to"][0]["ipBlock"]["cidr"])
            return External(str(next(network.hosts())))
    raise AssertionError(f"{policy_name} allows nothing on {port}")


def test_redis_and_postgres_are_external_names() -> None:
    objects = render("prod")
    for name in ("redis", "postgres"):
        service = named(objects, "Service", name)
        assert service["spec"]["type"] == "ExternalName"
        assert service["spec"]["externalName"]
    assert not [o for o in of_kind(objects, "StatefulSet")], "no database runs in the prod cluster"


def test_every_stateless_workload_autoscales_and_keeps_a_replica_through_disruptions() -> None:
    objects = render("prod")
    for name in WORKLOADS:
        deployment = named(objects, "Deployment", name)
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        hpa = named(objects, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        pdb = named(objects, "PodDisruptionBudget", name)
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "drains can proceed"


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_gateway_reaches_a_services_grpc_port(service: str) -> None:
    policies = _policies()
    port = GRPC[service]
    assert may_connect(policies, _pod("gateway"), _pod(service), port)
    for other in [*SERVICES, "backup", "debug-shell"]:
        assert not may_connect(policies, _pod(other), _pod(service), port), other
    assert not may_connect(policies, Pod({}, "default"), _pod(service), port)
    assert not may_connect(policies, PROMETHEUS, _pod(service), port)


@pytest.mark.parametrize("service", SERVICES)
def test_prometheus_scrapes_the_metrics_ports_and_nobody_else(service: str) -> None:
    policies = _policies()
    assert may_connect(policies, PROMETHEUS, _pod(service), METRICS[service])
    assert not may_connect(policies, _pod("gateway"), _pod(service), METRICS[service])
    assert not may_connect(
        policies,
        Pod({"app.kubernetes.io/name": "prometheus"}, "other"),
        _pod(service),
        METRICS[service],
    )


def test_the_gateway_is_reachable_on_its_http_port_only() -> None:
    policies = _policies()
    assert may_connect(policies, Pod({}, "ingress-nginx"), _pod("gateway"), 8080)
    assert may_connect(policies, PROMETHEUS, _pod("gateway"), 8080)
    assert not may_connect(policies, Pod({}, "ingress-nginx"), _pod("gateway"), 9000)


def test_only_the_suite_reaches_redis_and_postgres() -> None:
    policies = _policies()
    redis, postgres = _inside("backends-egress", 6379), _inside("backends-egress", 5432)
    users = {"ratelimit": {redis}, "cost": {redis, postgres}, "router": {redis, postgres}}
    users |= {
        "flags": {postgres},
        "prompts": {postgres},
        "gateway": {postgres},
        "backup": {postgres},
    }
    for name, backends in users.items():
        for backend in backends:
            port = 6379 if backend is redis else 5432
            assert may_connect(policies, _pod(name), backend, port), name
    for stranger in ("debug-shell", "grafana"):
        assert not may_connect(policies, _pod(stranger), redis, 6379)
        assert not may_connect(policies, _pod(stranger), postgres, 5432)


def test_the_router_calls_providers_on_the_internet_but_not_internal_addresses() -> None:
    policies = _policies()
    assert may_connect(policies, _pod("router"), External("104.18.6.192"), 443)
    assert not may_connect(policies, _pod("router"), External("10.1.2.3"), 443)
    assert not may_connect(policies, _pod("gateway"), External("104.18.6.192"), 443)


def test_cost_reaches_its_alert_webhooks_on_the_internet_and_nothing_else() -> None:
    policies = _policies()
    public = External("104.18.6.192")
    assert may_connect(policies, _pod("cost"), public, 443), "COST_ALERT_WEBHOOK_URL receivers"
    # Only HTTPS, only public addresses: no other port outside, nothing internal on 443.
    for port in (80, 8080, 5432, 6379, 50051):
        assert not may_connect(policies, _pod("cost"), public, port), port
    for internal in ("10.1.2.3", "172.16.0.10", "192.168.1.1", "169.254.169.254"):
        assert not may_connect(policies, _pod("cost"), External(internal), 443), internal
    # Managed Redis and PostgreSQL stay on their own ports only.
    assert not may_connect(policies, _pod("cost"), _inside("backends-egress", 5432), 443)
    # No other pod of the namespace, nor the other services' gRPC or metrics ports.
    for other in [name for name in SERVICES if name != "cost"]:
        assert not may_connect(policies, _pod("cost"), _pod(other), GRPC[other]), other
        assert not may_connect(policies, _pod("cost"), _pod(other), METRICS[other]), other
    assert not may_connect(policies, _pod("cost"), _pod("gateway"), 8080)
    # The policy opens the cost service only: the others still have no way out on 443.
    for name in ("ratelimit", "flags", "prompts", "gateway", "backup", "debug-shell"):
        assert not may_connect(policies, _pod(name), public, 443), name


def test_the_backup_job_is_covered_by_the_backend_policy() -> None:
    objects = render("prod")
    job = named(objects, "CronJob", "backup")
    labels = job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert may_connect(_policies(), Pod(labels, NAMESPACE), _inside("backends-egress", 5432), 5432)
    assert (
        main_container(job)["image"]
        == main_container(named(objects, "Deployment", "router"))["image"]
    )
