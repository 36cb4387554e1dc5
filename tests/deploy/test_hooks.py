"""Contributor hooks and linters' configuration: the pre-commit hooks are local (no download at
hook time) and run tools that are installed, the secrets pattern catches credentials and passes
the repository, yamllint passes the repository's YAML, and `make lint` runs bandit."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import ROOT

CONFIG = ROOT / ".pre-commit-config.yaml"
VENV_BIN = ROOT / ".venv" / "bin"
REQUIRED_HOOKS = {"ruff", "ruff-format", "mypy", "buf-lint", "yamllint", "secrets"}
FAKE = {
    "openai": "sk-proj-" + "Ab3" * 10,
    "aws": "AKIA" + "ABCDEFGHIJKLMNOP",
    "github": "ghp_" + "a1" * 18,
    "private key": "-----BEGIN RSA " + "PRIVATE KEY-----",
}


def _hooks() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(CONFIG.read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    return {hook["id"]: hook for hook in config["repos"][0]["hooks"]}


def test_pre_commit_config_is_valid() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "pre-commit"), "validate-config", str(CONFIG)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_required_hook_is_local_and_its_tool_is_installed() -> None:
    hooks = _hooks()
    assert set(hooks) >= REQUIRED_HOOKS
    for hook in hooks.values():
        if hook["language"] == "pygrep":
            continue
        assert hook["language"] == "system", hook["id"]
        tool = hook["entry"].split()[0]
        if tool.startswith(".venv/"):
            assert (ROOT / tool).is_file(), tool
        else:
            assert shutil.which(tool) is not None or tool == "promtool", tool


def _secrets_pattern() -> tuple[re.Pattern[str], re.Pattern[str]]:
    hook = _hooks()["secrets"]
    return re.compile(hook["entry"]), re.compile(hook["exclude"])


@pytest.mark.parametrize("kind", sorted(FAKE))
def test_the_secrets_scan_catches_credentials(kind: str) -> None:
    pattern, _ = _secrets_pattern()
    assert pattern.search(f'value = "{FAKE[kind]}"')
    assert not pattern.search(f'value = "{FAKE[kind]}"  # pragma: allowlist secret')


def test_the_repository_passes_the_secrets_scan() -> None:
    pattern, exclude = _secrets_pattern()
    listed = subprocess.run(  # a read-only git query
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    found = []
    for name in listed:
        path = ROOT / name
        if exclude.search(name) or name.startswith("gen/") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [
            f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if pattern.search(line)
        ]
    assert found == []


def test_yamllint_passes_the_repository() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "yamllint"), "-s", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_lint_runs_bandit_with_the_pyproject_configuration() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "bandit -q -c pyproject.toml -r svckit services gateway scripts" in lint
    skips = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["bandit"]["skips"]
    assert "B102" not in skips, "exec stays flagged"
    assert "B602" not in skips, "shell=True stays flagged"
