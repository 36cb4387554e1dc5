"""The gateway benchmark's competitors, each installed by the benchmark on first use:

    litellm      LiteLLM's proxy (`litellm[proxy]`, pinned), in a scratch virtual environment
                 under build/bench-env, one worker, a master key, no database, one model
                 pointing at the fake upstream
    portkey      Portkey's gateway (npm `@portkey-ai/gateway`, pinned), under build/bench-env,
                 the fake named per request with `x-portkey-custom-host`

A competitor that cannot be installed here (no registry) is reported as not measured, with the
reason; the others still run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from scripts.bench_gateway_targets import MODEL, UPSTREAM_MODEL, Target, http_ready
from scripts.bench_servers import OUT_DIR, ROOT, BenchError, Server, free_port

# The first that installs wins: 1.110.2's proxy extra needs `litellm-proxy==1.110.2`, which some
# registries (this machine's mirror) lack; 1.108.7 is the newest whose extra resolves there.
LITELLM_VERSIONS = ("1.110.2", "1.108.7")
PORTKEY_VERSION = "1.15.2"
ENV_DIR = ROOT / "build" / "bench-env"
LITELLM_MASTER_KEY = "sk-bench-master-key"
INSTALL_TIMEOUT_S = 900.0
LITELLM_YAML = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{upstream_model}
      api_base: {base_url}
      api_key: sk-fake
general_settings:
  master_key: {master_key}
"""


# --- LiteLLM -------------------------------------------------------------------------------


def litellm(workdir: Path, upstream: Server) -> Target:
    venv, version = _litellm_env()
    config = workdir / "litellm.yaml"
    config.write_text(
        LITELLM_YAML.format(
            model=MODEL,
            upstream_model=UPSTREAM_MODEL,
            base_url=f"http://{upstream.address}/v1",
            master_key=LITELLM_MASTER_KEY,
        )
    )
    port = free_port()
    argv = [str(venv / "bin" / "litellm"), "--config", str(config), "--port", str(port)]
    argv += ["--host", "127.0.0.1", "--num_workers", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "OTEL_"))}
    env |= {"LITELLM_LOG": "ERROR", "LITELLM_MODE": "PRODUCTION", "DISABLE_ADMIN_UI": "True"}
    auth = {"authorization": f"Bearer {LITELLM_MASTER_KEY}"}
    server = Server("litellm", argv, env, port, ready=http_ready("/health/liveliness", auth))
    target = Target("litellm", f"http://{server.address}/v1", tuple(auth.items()), version)
    target.servers.append(server)
    try:
        server.wait_ready(180.0)
    except BaseException:
        target.stop()
        raise
    return target


def _litellm_env() -> tuple[Path, str]:
    """A scratch virtual environment with the first of LITELLM_VERSIONS that installs."""
    failures = []
    for version in LITELLM_VERSIONS:
        venv = ENV_DIR / f"litellm-{version}"
        marker = venv / ".installed"
        if marker.exists():
            return venv, version
        shutil.rmtree(venv, ignore_errors=True)
        print(f"installing litellm[proxy]=={version} into {venv} ...", flush=True)
        try:
            _run([sys.executable, "-m", "venv", str(venv)])
            pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
            _run([*pip, f"litellm[proxy]=={version}"])
        except BenchError as exc:
            failures.append(str(exc))
            continue
        marker.touch()
        return venv, version
    raise BenchError("no LiteLLM version installed: " + "; ".join(failures))


# --- Portkey -------------------------------------------------------------------------------


def portkey(upstream: Server) -> Target:
    home = _portkey_env()
    port = free_port()
    script = home / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    argv = ["node", str(script), f"--port={port}", "--headless"]
    env = dict(os.environ) | {"NODE_ENV": "production"}
    server = Server("portkey", argv, env, port, ready=http_ready("/"))
    headers = (
        ("x-portkey-provider", "openai"),
        ("x-portkey-custom-host", f"http://{upstream.address}/v1"),
        ("authorization", "Bearer sk-fake"),
    )
    target = Target("portkey", f"http://{server.address}/v1", headers, PORTKEY_VERSION)
    target.servers.append(server)
    try:
        server.wait_ready(60.0)
    except BaseException:
        target.stop()
        raise
    return target


def _portkey_env() -> Path:
    home = ENV_DIR / f"portkey-{PORTKEY_VERSION}"
    marker = home / ".installed"
    if marker.exists():
        return home
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise BenchError("Portkey's gateway needs node and npm, which are not on PATH")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    (home / "package.json").write_text('{"name": "bench-portkey", "private": true}\n')
    print(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {home} ...", flush=True)
    npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"]
    _run([*npm, f"@portkey-ai/gateway@{PORTKEY_VERSION}"], cwd=home)
    marker.touch()
    return home


def _run(argv: list[str], cwd: Path | None = None) -> None:
    log = OUT_DIR / "install.log"
    with log.open("ab") as out:
        try:
            done = subprocess.run(
                argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BenchError(f"{argv[0]} failed: {exc}") from exc
    if done.returncode != 0:
        raise BenchError(f"{' '.join(argv[:3])} ... exited {done.returncode}; see {log}")
