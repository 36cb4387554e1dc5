"""The rendered Kubernetes manifests, as the tests see them: `kubectl kustomize <overlay>` parsed.

Rendering runs the real kustomize (kubectl's); each overlay is rendered once per test session.
Helpers resolve what a container's environment will be (ConfigMaps through `envFrom`, Secret
references by name) without a cluster.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.backends import missing_backend

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")

KUBERNETES_VERSION = "1.31.0"
"""The Kubernetes version every rendered object is validated against (docs/deploy.md)."""

SERVICES = ("ratelimit", "cost", "router", "flags", "prompts")
WORKLOADS = (*SERVICES, "gateway")

Object = dict[str, Any]


@functools.cache
def _render(overlay: str) -> tuple[Object, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return ()
    out = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def render(overlay: str) -> list[Object]:
    objects = _render(overlay)
    if not objects:
        missing_backend("kubectl (with kustomize) is not installed")
    return list(objects)


def of_kind(objects: list[Object], kind: str) -> list[Object]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[Object], kind: str, name: str) -> Object:
    """The one object of `kind` called `name`, or `name-<hash>` as kustomize's generators name."""
    pattern = re.compile(re.escape(name) + r"(-[a-z0-9]{10})?")
    found = [o for o in of_kind(objects, kind) if pattern.fullmatch(o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Object) -> Object:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def workloads(objects: list[Object]) -> Iterator[Object]:
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "CronJob", "Job", "DaemonSet"):
            yield o


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None
    """Literal or from a ConfigMap; None for a Secret reference."""
    secret_key: str | None = None
    optional: bool = False


def container_env(objects: list[Object], container: Object) -> list[EnvVar]:
    """The container's variables: every `envFrom` ConfigMap's keys, then `env` (which wins)."""
    found: dict[str, EnvVar] = {}
    for source in container.get("envFrom", []):
        ref = source["configMapRef"]
        data = named(objects, "ConfigMap", ref["name"]).get("data", {})
        for key, value in data.items():
            found[key] = EnvVar(key, str(value))
    for var in container.get("env", []):
        name = var["name"]
        if "value" in var:
            found[name] = EnvVar(name, str(var["value"]))
            continue
        source = var["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            found[name] = EnvVar(name, None, ref["key"], bool(ref.get("optional", False)))
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = named(objects, "ConfigMap", ref["name"])["data"][ref["key"]]
            found[name] = EnvVar(name, str(value))
        else:
            raise AssertionError(f"unexpected valueFrom in {name}: {source}")
    return list(found.values())


def main_container(workload: Object) -> Object:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    return dict(containers[0])
