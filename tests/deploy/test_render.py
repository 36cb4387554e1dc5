"""Both overlays render with kustomize, and every object is valid for the stated Kubernetes."""

from __future__ import annotations

import pytest
from kubernetes_validate import ValidationError, validate  # type: ignore[import-untyped]
from kubernetes_validate.utils import SchemaNotFoundError  # type: ignore[import-untyped]

from tests.deploy.manifests import KUBERNETES_VERSION, OVERLAYS, WORKLOADS, of_kind, render


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_stated_kubernetes(overlay: str) -> None:
    objects = render(overlay)
    problems = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            validate(obj, KUBERNETES_VERSION, strict=True)
        except (ValidationError, SchemaNotFoundError) as exc:
            problems.append(f"{where}: {exc}")
    assert problems == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_has_one_deployment_service_account_and_config_map_per_workload(
    overlay: str,
) -> None:
    objects = render(overlay)
    for kind in ("Deployment", "Service", "ServiceAccount", "ConfigMap"):
        names = {o["metadata"]["name"] for o in of_kind(objects, kind)}
        assert set(WORKLOADS) <= names, kind


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lands_in_the_overlays_namespace(overlay: str) -> None:
    objects = render(overlay)
    (namespace,) = of_kind(objects, "Namespace")
    name = namespace["metadata"]["name"]
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {name}


def test_a_broken_object_is_rejected_by_the_validator() -> None:
    """The validator is strict: an unknown field fails (so the test above can fail)."""
    deployment = of_kind(render("prod"), "Deployment")[0]
    broken = {**deployment, "spec": {**deployment["spec"], "replicaz": 2}}
    with pytest.raises(ValidationError):
        validate(broken, KUBERNETES_VERSION, strict=True)
