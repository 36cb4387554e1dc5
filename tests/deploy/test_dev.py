"""The dev overlay runs everything beside the suite: Redis, PostgreSQL, an OpenTelemetry
collector with Jaeger, Prometheus and Grafana, wired to each other."""

from __future__ import annotations

import json

from tests.deploy.manifests import (
    DEPLOY,
    Object,
    container_env,
    main_container,
    named,
    pod_spec,
    render,
    workloads,
)


def _service_port(objects: list[Object], host: str, port: int) -> None:
    service = named(objects, "Service", host)
    assert port in [p["port"] for p in service["spec"]["ports"]], f"{host}:{port}"


def test_dev_runs_the_backends_and_the_observability_stack() -> None:
    objects = render("dev")
    names = {w["metadata"]["name"] for w in workloads(objects)}
    assert {"redis", "postgres", "otel-collector", "jaeger", "prometheus", "grafana"} <= names
    _service_port(objects, "redis", 6379)
    _service_port(objects, "postgres", 5432)
    _service_port(objects, "jaeger", 4317)
    _service_port(objects, "grafana", 3000)
    _service_port(objects, "prometheus", 9090)


def test_every_secret_reference_in_dev_is_satisfied_by_the_generated_secret() -> None:
    objects = render("dev")
    secret = named(objects, "Secret", "switchboard-secrets")
    keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
    for workload in workloads(objects):
        for container in pod_spec(workload)["containers"]:
            for var in container_env(objects, container) if "envFrom" in container else []:
                if var.secret_key and not var.optional:
                    assert var.secret_key in keys, (workload["metadata"]["name"], var.name)
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    assert ref["key"] in keys, (workload["metadata"]["name"], var["name"])


def test_backend_urls_and_the_trace_endpoint_point_at_services_of_the_overlay() -> None:
    import base64

    from sqlalchemy.engine import make_url

    objects = render("dev")
    secret = named(objects, "Secret", "switchboard-secrets")
    for key, encoded in secret["data"].items():
        if key.endswith("-url"):
            url = make_url(base64.b64decode(encoded).decode())
            _service_port(objects, str(url.host), int(url.port or 0))
    telemetry = named(objects, "ConfigMap", "switchboard-telemetry")["data"]
    endpoint = telemetry["OTEL_EXPORTER_OTLP_ENDPOINT"].removeprefix("http://")
    host, port = endpoint.split(":")
    _service_port(objects, host, int(port))
    collector = named(objects, "ConfigMap", "otel-collector-config")["data"]["collector.yaml"]
    assert "endpoint: jaeger:4317" in collector


def test_prometheus_loads_the_rules_and_grafana_every_dashboard() -> None:
    objects = render("dev")
    rules = named(objects, "ConfigMap", "prometheus-rules")
    assert list(rules["data"]) == ["switchboard-alerts.yml"]
    prometheus = main_container(named(objects, "Deployment", "prometheus"))
    assert {"mountPath": "/etc/prometheus/rules", "name": "rules"} in prometheus["volumeMounts"]
    dashboards = named(objects, "ConfigMap", "grafana-dashboards")["data"]
    files = {
        path.name for path in (DEPLOY / "observability" / "grafana" / "dashboards").glob("*.json")
    }
    assert set(dashboards) == files
    for text in dashboards.values():
        assert json.loads(text)["panels"]
