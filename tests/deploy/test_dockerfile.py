"""The image, checked without a Docker engine: the Dockerfile is parsed and its final stage
examined (base pinned, non-root user, files copied exist and are what the services need), and
the .dockerignore keeps the build context to the sources."""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.deploy.manifests import (
    OVERLAYS,
    ROOT,
    WORKLOADS,
    container_env,
    main_container,
    named,
    render,
)

PINNED_BASE = re.compile(
    r"^python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$|^python:3\.11[^@]*@sha256:[0-9a-f]{64}$"
)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """ARG defaults before the first FROM, and the stages with their instructions."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", path.read_text())  # join continued lines
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(
                r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], words[0]
            )
            stages.append(Stage(base, words[2] if len(words) > 2 else None))
        elif keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def _copies(stage: Stage) -> list[tuple[list[str], str]]:
    copies = []
    for keyword, rest in stage.instructions:
        if keyword == "COPY" and "--from=" not in rest:
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            copies.append((words[:-1], words[-1]))
    return copies


def _final() -> Stage:
    return parse(ROOT / "Dockerfile")[1][-1]


def test_every_stage_starts_from_a_pinned_python_bookworm_image() -> None:
    _, stages = parse(ROOT / "Dockerfile")
    assert len(stages) >= 2, "multi-stage: build tools stay out of the final image"
    for stage in stages:
        assert PINNED_BASE.match(stage.base), stage.base


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = [rest for keyword, rest in _final().instructions if keyword == "USER"]
    assert users, "the final stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric, so runAsNonRoot can check it"
    assert int(uid) != 0
    for overlay in OVERLAYS:
        for name in WORKLOADS:
            deployment = named(render(overlay), "Deployment", name)
            assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(
                uid
            )


def test_dependencies_install_from_the_hashed_lock() -> None:
    _, stages = parse(ROOT / "Dockerfile")
    runs = " ".join(
        rest for stage in stages for keyword, rest in stage.instructions if keyword == "RUN"
    )
    assert "--require-hashes -r /tmp/requirements.lock" in runs
    assert "opentelemetry-proto" in runs, "the Makefile's reinstall fix applies to the image too"


def test_the_sources_copied_exist_and_cover_every_command() -> None:
    _, stages = parse(ROOT / "Dockerfile")
    copied: dict[str, str] = {}
    for stage in stages:
        for sources, _target in _copies(stage):
            for source in sources:
                assert (ROOT / source).exists(), source
                copied[source.rstrip("/")] = source
    for package in ("svckit", "services", "gateway", "gen/python", "config", "scripts"):
        assert package in copied, package
    env = " ".join(rest for keyword, rest in _final().instructions if keyword == "ENV")
    assert "PYTHONPATH=/app:/app/gen/python" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "the root filesystem is read-only"
    # Files the manifests point at inside the image are ones the image copies.
    for overlay in OVERLAYS:
        objects = render(overlay)
        for name in WORKLOADS:
            container = main_container(named(objects, "Deployment", name))
            for var in container_env(objects, container):
                if var.value and var.value.startswith("/app/"):
                    relative = var.value.removeprefix("/app/")
                    assert (ROOT / relative).is_file(), var
                    assert any(relative.startswith(c + "/") for c in copied), var


def test_the_backup_module_the_cron_job_runs_is_in_the_image() -> None:
    assert (ROOT / "scripts" / "backup.py").is_file() or (ROOT / "scripts" / "backup").is_dir()


def _ignored(patterns: list[str], path: str) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.removeprefix("**/"))
            for p in prefixes
        ):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_local_state_out_and_the_sources_in() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (
        ".venv",
        ".git",
        "build",
        "tests",
        "node_modules",
        ".venv/bin/python",
        "tests/deploy/x.py",
    ):
        assert _ignored(patterns, path), path
    for path in (
        "svckit/server.py",
        "gen/python/switchboard/__init__.py",
        "requirements.lock",
        "config/cost/prices.yaml",
    ):
        assert not _ignored(patterns, path), path
    assert _ignored(patterns, "services/cost/__pycache__/app.cpython-311.pyc")
