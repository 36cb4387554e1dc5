"""The suite as the prod overlay deploys it, two replicas of everything, on loopback.

Each workload's command and environment are taken from the rendered manifests (`kubectl
kustomize deploy/k8s/overlays/prod`), then rewritten the way the cluster would resolve them:

- a Secret reference takes the test's value (database and Redis URLs, the key pepper); an
  optional one the test has no value for is left out, as Kubernetes leaves it out;
- `dns:///<service>:<port>` becomes `ipv4:` with the loopback address of each replica, which is
  what the headless Service's name resolves to;
- `/app/...` (the image's working directory) is the repository, and a ConfigMap mounted as files
  is written to a directory of the test's own;
- `python` is this interpreter, and each replica gets free ports in place of the container's.

Then the test's own variables are added as `tests.gateway.suite_processes` adds them to a
single-process suite (key prefixes under the test's, the test tiers). Two replicas of the
gateway sit behind a `RoundRobinBalancer`, as behind the gateway's Service.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.balancer import RoundRobinBalancer
from tests.deploy.manifests import (
    ROOT,
    SERVICES,
    Object,
    container_env,
    main_container,
    named,
    pod_spec,
    render,
)
from tests.gateway.suite_processes import (
    TIERS,
    Backends,
    Suite,
    create_keys,
    environments,
)
from tests.service_process import GatewayProcess, ServiceProcess, stop_all

OVERLAY = "prod"
REPLICAS = 2
IMAGE_WORKDIR = "/app/"
DNS = "dns:///"


@dataclass
class Replicas:
    """Every process of the replicated suite, by workload name, and the gateway's balancer."""

    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    balancer: RoundRobinBalancer | None = None

    def all(self) -> list[ServiceProcess]:
        return [process for group in self.processes.values() for process in group]


def command(container: Object) -> list[str]:
    """The container's command line, run by this interpreter."""
    argv = [*container.get("command", []), *container.get("args", [])]
    assert argv[:1] == ["python"], f"unexpected command {argv}"
    return [sys.executable, *argv[1:]]


def mounted_files(objects: list[Object], workload: Object, directory: Path) -> dict[str, Path]:
    """Every ConfigMap the workload mounts, written under `directory`: mount path to folder."""
    container = main_container(workload)
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    found: dict[str, Path] = {}
    for mount in container.get("volumeMounts", []):
        source = volumes[mount["name"]].get("configMap")
        if source is None:
            continue  # an emptyDir (/tmp): the process's own temporary directory serves
        folder = directory / mount["name"]
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in named(objects, "ConfigMap", source["name"]).get("data", {}).items():
            (folder / key).write_text(value)
        found[mount["mountPath"]] = folder
    return found


def manifest_environment(
    objects: list[Object],
    workload: Object,
    secrets: Mapping[str, str],
    addresses: Mapping[str, list[int]],
    directory: Path,
) -> dict[str, str]:
    """The workload's variables as its pod would see them, rewritten for loopback.

    `secrets`: variable name to the test's value for a Secret reference; `addresses`: service
    name to the gRPC ports of its replicas."""
    mounts = mounted_files(objects, workload, directory)
    env: dict[str, str] = {}
    for var in container_env(objects, main_container(workload)):
        if var.value is None:
            if var.name in secrets:
                env[var.name] = secrets[var.name]
            else:
                assert var.optional, f"no test value for the required secret {var.name}"
            continue
        env[var.name] = _rewrite(var.value, objects, addresses, mounts)
    return env


def _rewrite(
    value: str, objects: list[Object], addresses: Mapping[str, list[int]], mounts: dict[str, Path]
) -> str:
    if value.startswith(DNS):
        host, port = value.removeprefix(DNS).rsplit(":", 1)
        service = named(objects, "Service", host)
        assert int(port) in [p["port"] for p in service["spec"]["ports"]], value
        return "ipv4:" + ",".join(f"127.0.0.1:{p}" for p in addresses[host])
    for mount_path, folder in mounts.items():
        if value.startswith(mount_path + "/"):
            return str(folder / value.removeprefix(mount_path + "/"))
    if value.startswith(IMAGE_WORKDIR):
        return str(ROOT / value.removeprefix(IMAGE_WORKDIR))
    return value


@contextmanager
def running_replicas(backends: Backends, tmp_path: Path) -> Iterator[tuple[Suite, Replicas]]:
    """Two replicas of each service, then of the gateway behind its balancer; every process is
    stopped after (the test fails unless each exits 0 on SIGTERM)."""
    objects = render(OVERLAY)
    tiers = tmp_path / "tiers.yaml"
    tiers.write_text(TIERS)
    test_env = environments(backends, tiers)
    secrets = {name: value for variables in test_env.values() for name, value in variables.items()}
    replicas = Replicas()
    for name in SERVICES:
        workload = named(objects, "Deployment", name)
        env = {
            **manifest_environment(objects, workload, secrets, {}, tmp_path / name),
            **test_env[name],
        }
        replicas.processes[name] = [
            ServiceProcess(
                env, tmp_path / f"{name}-{i}.log", name, command=command(main_container(workload))
            )
            for i in range(REPLICAS)
        ]
    try:
        with ThreadPoolExecutor(max_workers=len(replicas.all())) as pool:
            starts = [pool.submit(process.start) for process in replicas.all()]
            keys = create_keys(test_env["gateway"])
            for start in starts:
                start.result()
        gateways = _gateways(objects, replicas, secrets, test_env["gateway"], tmp_path)
        with ThreadPoolExecutor(max_workers=REPLICAS) as pool:
            list(pool.map(lambda gateway: gateway.start(), gateways))
        replicas.balancer = RoundRobinBalancer([gateway.port for gateway in gateways])
        replicas.balancer.start()
        services = {
            name: group[0] for name, group in replicas.processes.items() if name in SERVICES
        }
        yield Suite(gateways[0], keys, services, front=replicas.balancer.origin), replicas
    finally:
        if replicas.balancer is not None:
            replicas.balancer.close()
        stop_all(replicas.all())


def _gateways(
    objects: list[Object],
    replicas: Replicas,
    secrets: Mapping[str, str],
    test_env: Mapping[str, str],
    tmp_path: Path,
) -> list[GatewayProcess]:
    workload = named(objects, "Deployment", "gateway")
    ports = {name: [p.port for p in group] for name, group in replicas.processes.items()}
    env = {
        **manifest_environment(objects, workload, secrets, ports, tmp_path / "gateway"),
        **test_env,
    }
    gateways = [
        GatewayProcess(
            env, tmp_path / f"gateway-{i}.log", command=command(main_container(workload))
        )
        for i in range(REPLICAS)
    ]
    replicas.processes["gateway"] = list(gateways)
    return gateways


__all__ = ["OVERLAY", "REPLICAS", "Replicas", "manifest_environment", "running_replicas"]
