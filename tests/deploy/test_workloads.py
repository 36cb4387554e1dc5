"""Walks every rendered workload: probes, resources, security context, labels, shutdown timing,
and the ports and environment variables each container sets against what its service reads."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from services.router.catalogue import parse_catalogue
from svckit.health import LIVENESS_SERVICE
from svckit.shutdown import SHUTDOWN_MARGIN_SECONDS
from tests.deploy.manifests import (
    OVERLAYS,
    SERVICES,
    WORKLOADS,
    EnvVar,
    Object,
    container_env,
    main_container,
    named,
    pod_spec,
    render,
    workloads,
)
from tests.deploy.settings_catalogue import READERS, allowed_variables, every_settings_variable

STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/component",
)
DNS = "dns:///"
"""The gateway names each service so that gRPC resolves every replica (svckit/channels.py)."""
CASES = [(overlay, name) for overlay in OVERLAYS for name in WORKLOADS]


def _deployment(overlay: str, name: str) -> tuple[list[Object], Object, Object]:
    objects = render(overlay)
    deployment = named(objects, "Deployment", name)
    return objects, deployment, main_container(deployment)


def _settings(objects: list[Object], name: str, env: list[EnvVar]) -> Any:
    """The service's settings as its container would load them (secrets: empty placeholders)."""
    values = {var.name: var.value if var.value is not None else "" for var in env}
    return READERS[name].load(values)


def _provider_keys(objects: list[Object]) -> frozenset[str]:
    models = named(objects, "ConfigMap", "router-models")
    catalogue = parse_catalogue(models["data"]["models.yaml"], "router-models")
    return frozenset(d.api_key_secret for _, d in catalogue.deployments() if d.api_key_secret)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_non_root_read_only_without_capabilities_and_bounded(
    overlay: str,
) -> None:
    problems = []
    for workload in workloads(render(overlay)):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        pod = pod_spec(workload)
        pod_context = pod.get("securityContext", {})
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container.get("securityContext", {})
            if not (context.get("runAsNonRoot") or pod_context.get("runAsNonRoot")):
                problems.append(f"{where}: may run as root")
            if pod_context.get("runAsUser", context.get("runAsUser", 1)) == 0:
                problems.append(f"{where}: runs as uid 0")
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: writable root filesystem")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation allowed")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities not dropped")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                if set(resources.get(bound, {})) != {"cpu", "memory"}:
                    problems.append(f"{where}: {bound} must set cpu and memory")
        for labels in (workload["metadata"].get("labels", {}), _template_labels(workload)):
            missing = [label for label in STANDARD_LABELS if not labels.get(label)]
            if missing:
                problems.append(f"{where}: missing labels {missing}")
    assert problems == []


def _template_labels(workload: Object) -> dict[str, str]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["metadata"].get("labels", {}))


@pytest.mark.parametrize(("overlay", "name"), CASES)
def test_the_container_runs_its_services_module(overlay: str, name: str) -> None:
    _, _, container = _deployment(overlay, name)
    module = "gateway" if name == "gateway" else f"services.{name}"
    assert container["command"] == ["python", "-m", module]
    assert importlib.util.find_spec(f"{module}.__main__") is not None


@pytest.mark.parametrize(("overlay", "name"), CASES)
def test_every_variable_set_is_one_the_service_reads(overlay: str, name: str) -> None:
    objects, _, container = _deployment(overlay, name)
    keys = _provider_keys(objects) if name == "router" else frozenset()
    unknown = {var.name for var in container_env(objects, container)} - allowed_variables(
        name, keys
    )
    assert unknown == set()


def test_a_misspelt_or_foreign_variable_is_not_allowed() -> None:
    allowed = allowed_variables("ratelimit")
    assert {"RATELIMIT_REDIS_URL", "RATELIMIT_GRPC_PORT", "OTEL_SERVICE_NAME"} <= allowed
    assert "RATELIMIT_REDIS_ULR" not in allowed
    assert "COST_DATABASE_URL" not in allowed, "another service's variable"
    assert "GATEWAY_KEY_PEPPER" in allowed_variables("gateway"), "a secret its settings name"
    assert "ROUTER_VAULT_ADDR" in allowed_variables("router"), "the secrets source's settings"


@pytest.mark.parametrize(("overlay", "name"), CASES)
def test_the_environment_loads_into_valid_settings(overlay: str, name: str) -> None:
    objects, _, container = _deployment(overlay, name)
    _settings(objects, name, container_env(objects, container))  # raises SettingsError


@pytest.mark.parametrize(("overlay", "name"), [(o, n) for o in OVERLAYS for n in SERVICES])
def test_grpc_service_ports_and_probes_match_its_settings(overlay: str, name: str) -> None:
    objects, deployment, container = _deployment(overlay, name)
    settings = _settings(objects, name, container_env(objects, container))
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"grpc": settings.grpc_port, "metrics": settings.metrics_port}
    # Native gRPC probes: readiness asks the overall health (dependencies included), liveness
    # and start-up only whether the process answers.
    assert container["readinessProbe"]["grpc"] == {"port": settings.grpc_port}
    for probe in ("livenessProbe", "startupProbe"):
        assert container[probe]["grpc"] == {"port": settings.grpc_port, "service": LIVENESS_SERVICE}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.metrics_port)
    _assert_service_exposes(objects, name, container)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gateway_port_probes_and_downstream_addresses_match(overlay: str) -> None:
    objects, deployment, container = _deployment(overlay, "gateway")
    settings = _settings(objects, "gateway", container_env(objects, container))
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "http": settings.http_port
    }
    # Readiness is downstream health; liveness and start-up only whether the process answers, so
    # new pods started during a backend outage wait unready instead of restarting in a loop.
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    for probe in ("livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/health/live", "port": "http"}, probe
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (
        str(settings.http_port),
        "/metrics",
    )
    _assert_service_exposes(objects, "gateway", container)
    for service in SERVICES:
        address = getattr(settings, f"{service}_addr")
        assert address.startswith(DNS), f"{service}: {address} is not resolved to every replica"
        host, port = address.removeprefix(DNS).rsplit(":", 1)
        target = named(objects, "Service", host)
        assert target["spec"]["clusterIP"] == "None", f"{host}: headless, so DNS lists replicas"
        _, _, downstream = _deployment(overlay, service)
        grpc_port = next(p["containerPort"] for p in downstream["ports"] if p["name"] == "grpc")
        assert {"port": int(port), "target": "grpc"} in [
            {"port": p["port"], "target": p["targetPort"]} for p in target["spec"]["ports"]
        ]
        assert target["spec"]["selector"] == {"app.kubernetes.io/name": service}
        assert int(port) == grpc_port


def _assert_service_exposes(objects: list[Object], name: str, container: Object) -> None:
    service = named(objects, "Service", name)
    by_name = {p["name"]: p["containerPort"] for p in container["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in by_name
        assert port["port"] == by_name[port["targetPort"]]
    deployment = named(objects, "Deployment", name)
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= template_labels.items()


@pytest.mark.parametrize(("overlay", "name"), CASES)
def test_termination_grace_outlasts_the_pre_stop_pause_and_the_drain(
    overlay: str, name: str
) -> None:
    objects, deployment, container = _deployment(overlay, name)
    settings = _settings(objects, name, container_env(objects, container))
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    needed = pause + settings.shutdown_grace_seconds + SHUTDOWN_MARGIN_SECONDS
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > needed


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_router_catalogue_in_the_config_map_loads(overlay: str) -> None:
    objects = render(overlay)
    keys = _provider_keys(objects)  # parses; CatalogueError on a bad file
    _, _, container = _deployment(overlay, "router")
    secrets = {var.name for var in container_env(objects, container) if var.secret_key}
    assert keys <= secrets, "every provider key the catalogue names comes from the Secret"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    settings = _settings(objects, "router", container_env(objects, container))
    assert str(settings.models_file.parent) in mounts


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_backup_cron_job_runs_daily_once_at_a_time(overlay: str) -> None:
    objects = render(overlay)
    job = named(objects, "CronJob", "backup")
    minute, hour, *rest = job["spec"]["schedule"].split()
    assert minute.isdigit()
    assert hour.isdigit()
    assert rest == ["*", "*", "*"]
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    container = main_container(job)
    script = " ".join(container["command"])
    assert "python -m scripts.backup" in script
    env = container_env(objects, container)
    databases = {
        f"{n.upper()}_DATABASE_URL" for n in ("cost", "router", "flags", "prompts", "gateway")
    }
    assert databases <= every_settings_variable()
    assert {var.name for var in env} == databases | {"BACKUP_SCRATCH_URL"}
    assert '--scratch-url "$BACKUP_SCRATCH_URL"' in script
    for subcommand in ("dump --dir /backups", "verify", "prune --dir /backups --keep-days 90"):
        assert f"python -m scripts.backup {subcommand}" in script
    for var in env:
        if var.name == "BACKUP_SCRATCH_URL":
            continue
        deployment = named(objects, "Deployment", var.name.split("_")[0].lower())
        service_env = container_env(objects, main_container(deployment))
        assert var in service_env, "the backup reads the same Secret key as the service"
