"""The `switchboard` scrape job finds the suite's pods where each Prometheus runs: the production
job (switchboard-job.yml, for a Prometheus in `monitoring`) discovers the prod overlay's namespace
by name, the dev stack's (prometheus.yml) its own namespace, where the dev Prometheus runs beside
the suite; otherwise the two jobs are the same. Each job's discovery and relabelling is applied to
the rendered pod templates, as Prometheus would to the pods it discovers.

(promtool cannot check these files: Debian's build leaves out Kubernetes service discovery.)"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.manifests import DEPLOY, WORKLOADS, Object, named, of_kind, render

PROMETHEUS_DIR = DEPLOY / "observability" / "prometheus"
PRODUCTION_JOB = PROMETHEUS_DIR / "switchboard-job.yml"
DEV_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
MONITORING = "monitoring"
"""Where the prod overlay's NetworkPolicies expect the production Prometheus."""
POD_IP = "10.244.1.7"


def _job(path: Path) -> Object:
    jobs = [
        j
        for j in yaml.safe_load(path.read_text())["scrape_configs"]
        if j["job_name"] == "switchboard"
    ]
    assert len(jobs) == 1, path.name
    return dict(jobs[0])


def _namespace(objects: list[Object], kind: str, name: str) -> str:
    return str(named(objects, kind, name)["metadata"]["namespace"])


def _discovered_namespaces(job: Object, prometheus_namespace: str) -> set[str]:
    """The namespaces a `role: pod` discovery watches (Prometheus' kubernetes_sd_configs)."""
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod"
    namespaces = sd.get("namespaces", {})
    watched = set(namespaces.get("names", []))
    if namespaces.get("own_namespace"):
        watched.add(prometheus_namespace)
    return watched or {"*"}


def _sanitize(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _target(workload: Object) -> dict[str, str]:
    """The labels Prometheus' pod discovery gives a replica of `workload` (one per pod here)."""
    template = workload["spec"]["template"]
    labels: dict[str, str] = {
        "__address__": POD_IP,
        "__meta_kubernetes_namespace": workload["metadata"]["namespace"],
        "__meta_kubernetes_pod_name": f"{workload['metadata']['name']}-5d8f7c9b4-x2k7q",
    }
    for key, value in template["metadata"].get("labels", {}).items():
        labels[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
    for key, value in template["metadata"].get("annotations", {}).items():
        labels[f"__meta_kubernetes_pod_annotation_{_sanitize(key)}"] = value
    return labels


def _relabel(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus' relabelling, for the actions the job uses (keep and replace); None: dropped."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(s, "") for s in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep":
            if match is None:
                return None
        elif action == "replace":
            if match is not None:
                replacement = re.sub(r"\$(\d+)", r"\\g<\1>", rule.get("replacement", "$1"))
                labels[rule["target_label"]] = match.expand(replacement)
        else:
            raise AssertionError(f"relabel action {action} is not modelled")
    return labels


def _scraped(job: Object, objects: list[Object], prometheus_namespace: str) -> dict[str, Object]:
    """The targets `job` scrapes among the rendered Deployments: workload name -> labels."""
    watched = _discovered_namespaces(job, prometheus_namespace)
    found: dict[str, Object] = {}
    for deployment in of_kind(objects, "Deployment"):
        if "*" not in watched and deployment["metadata"]["namespace"] not in watched:
            continue
        labels = _relabel(job["relabel_configs"], _target(deployment))
        if labels is not None:
            found[deployment["metadata"]["name"]] = labels
    return found


def _assert_scrapes_every_workload(found: dict[str, Object], objects: list[Object]) -> None:
    assert set(found) == set(WORKLOADS), "exactly Switchboard's workloads, nothing else"
    for name, labels in found.items():
        annotations = named(objects, "Deployment", name)["spec"]["template"]["metadata"][
            "annotations"
        ]
        assert labels["__address__"] == f"{POD_IP}:{annotations['prometheus.io/port']}", name
        assert labels["__metrics_path__"] == annotations.get("prometheus.io/path", "/metrics")
        assert labels["service"] == name
        assert labels["namespace"] == _namespace(objects, "Deployment", name)
        assert labels["pod"].startswith(name)


def test_the_production_job_finds_the_prod_pods_from_the_monitoring_namespace() -> None:
    objects = render("prod")
    job = _job(PRODUCTION_JOB)
    namespace = _namespace(objects, "Deployment", "gateway")
    namespaces = job["kubernetes_sd_configs"][0].get("namespaces", {})
    assert "own_namespace" not in namespaces, "Prometheus does not run in the suite's namespace"
    assert namespaces.get("names", [namespace]) == [namespace], "the prod overlay's namespace"
    _assert_scrapes_every_workload(_scraped(job, objects, MONITORING), objects)


def test_the_dev_job_finds_the_pods_of_its_own_namespace() -> None:
    objects = render("dev")
    job = _job(DEV_CONFIG)
    prometheus_namespace = _namespace(objects, "Deployment", "prometheus")
    assert prometheus_namespace == _namespace(objects, "Deployment", "gateway")
    assert job["kubernetes_sd_configs"][0]["namespaces"] == {"own_namespace": True}
    # Its Role is namespaced: discovery beyond its own namespace would be forbidden anyway.
    assert not [r for r in of_kind(objects, "ClusterRole") if "prometheus" in r["metadata"]["name"]]
    assert _namespace(objects, "Role", "prometheus") == prometheus_namespace
    found = _scraped(job, objects, prometheus_namespace)
    # The dev stack's own Deployments (Prometheus, Grafana, ...) carry no scrape annotation.
    _assert_scrapes_every_workload(found, objects)


def test_the_dev_job_would_find_nothing_from_the_monitoring_namespace() -> None:
    """Why production must not copy prometheus.yml's job: from `monitoring` it sees no pod."""
    assert _scraped(_job(DEV_CONFIG), render("prod"), MONITORING) == {}


def test_the_two_jobs_differ_only_in_the_namespaces_they_discover() -> None:
    production, dev = copy.deepcopy(_job(PRODUCTION_JOB)), copy.deepcopy(_job(DEV_CONFIG))
    for job in (production, dev):
        del job["kubernetes_sd_configs"][0]["namespaces"]
    assert production == dev


def test_the_production_file_is_a_scrape_config_files_document() -> None:
    """Loadable with `scrape_config_files:` as well as copied: scrape_configs and nothing else."""
    document = yaml.safe_load(PRODUCTION_JOB.read_text())
    assert set(document) == {"scrape_configs"}
    assert [job["job_name"] for job in document["scrape_configs"]] == ["switchboard"]
