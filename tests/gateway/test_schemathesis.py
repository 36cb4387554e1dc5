"""schemathesis against the gateway's own `/api/openapi.json`: every documented operation, with
generated requests, answers without a 5xx and as its document says (status code, content type,
body schema).

The whole suite runs in the test's process (`running_stack`: the three services and the gateway
on loopback); the document is loaded over real HTTP and every request goes over real HTTP too,
with the platform tenant's admin key. schemathesis is synchronous (requests), so it runs in a
worker thread while the test's loop serves the stack.

The run is bounded and reproducible: a few examples per operation, no deadline, derandomized
generation (a fixed seed derived from each test), no example database, no shrinking. Every
operation's failures are collected, so one run reports them all.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.gateway.pipeline.stack import running_stack

MAX_EXAMPLES = 12

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

EXCLUDED: dict[str, str] = {
    # Disabling a tenant could disable the platform tenant whose key drives the run (its name is
    # a constant schemathesis may draw); every later operation would then answer 403 and test
    # nothing. Its behaviour is covered by the keys API's tests.
    "Gateway_DisableTenant": "could disable the tenant whose key runs the test",
}


@dataclass(frozen=True)
class Target:
    base_url: str
    headers: dict[str, str]


def failures_of(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], target: Target
) -> list[str]:
    """The distinct failures of `operation`'s generated cases (empty when all conform)."""
    found: dict[str, str] = {}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def exercise(case: Case[Any]) -> None:
        try:
            case.call_and_validate(
                base_url=target.base_url, headers=target.headers, checks=CHECKS, timeout=10
            )
        except (AssertionError, FailureGroup) as failure:
            message = str(failure)
            found.setdefault(message.splitlines()[0] if message else repr(failure), message)

    try:
        exercise()
    except Unsatisfiable as unsatisfiable:
        found["unsatisfiable"] = f"no valid request could be generated: {unsatisfiable}"
    return list(found.values())


def undotted(document: dict[str, Any]) -> dict[str, Any]:
    """The document with `{a.b}` path parameters named `{a_b}`: the same URLs and schemas.

    OpenAPI allows a "." in a path parameter's name (Google's transcoding names nested fields so:
    `{override.subject}`), but schemathesis fills a path in with Python's `str.format`, which
    reads `{a.b}` as attribute `b` of `a` and rejects the operation. Renaming keeps every check.
    """
    paths: dict[str, Any] = {}
    for path, operations in document["paths"].items():
        for dotted in re.findall(r"\{([^}]*\.[^}]*)\}", path):
            path = path.replace(f"{{{dotted}}}", "{" + dotted.replace(".", "_") + "}")
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path" and parameter["name"] == dotted:
                        parameter["name"] = dotted.replace(".", "_")
        paths[path] = operations
    return {**document, "paths": paths}


def run_schemathesis(origin: str, headers: dict[str, str]) -> dict[str, list[str]]:
    document = httpx.get(f"{origin}/api/openapi.json").raise_for_status().json()
    schema = schemathesis.openapi.from_dict(undotted(document))
    target = Target(origin, headers)
    report: dict[str, list[str]] = {}
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            error = result.err()
            report[f"{error.method} {error.path}"] = [f"not a valid operation: {error}"]
            continue
        operation = result.ok()
        if operation.definition.raw.get("operationId") in EXCLUDED:
            continue
        failures = failures_of(operation, target)
        if failures:
            report[operation.label] = failures
    return report


async def test_every_operation_answers_without_5xx_and_as_documented(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        report = await asyncio.to_thread(run_schemathesis, stack.origin, stack.auth("platform"))

    assert report == {}, "\n\n".join(
        f"{label}:\n" + "\n---\n".join(failures) for label, failures in report.items()
    )
