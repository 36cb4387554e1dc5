"""`make run`'s runner, as a person uses it: start, see the banner, call a service and the
gateway with the printed key, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from scripts.run_suite import dev_key
from tests.ports import free_port
from tests.redis_server import reap

ROOT = Path(__file__).resolve().parents[2]


def test_the_suite_starts_answers_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    grpc_port, metrics_port = free_port(), free_port()
    router_port, cost_port = free_port(), free_port()
    env = {
        **os.environ,
        "RATELIMIT_GRPC_PORT": str(grpc_port),
        "RATELIMIT_METRICS_PORT": str(metrics_port),
        "ROUTER_GRPC_PORT": str(router_port),
        "ROUTER_METRICS_PORT": str(free_port()),
        "ROUTER_SQLITE_PATH": str(tmp_path / "router.sqlite3"),
        "COST_GRPC_PORT": str(cost_port),
        "COST_METRICS_PORT": str(free_port()),
        "COST_SQLITE_PATH": str(tmp_path / "cost.sqlite3"),
        "PROMPTS_GRPC_PORT": str(free_port()),
        "PROMPTS_METRICS_PORT": str(free_port()),
        "PROMPTS_SQLITE_PATH": str(tmp_path / "prompts.sqlite3"),
        "FLAGS_GRPC_PORT": str(free_port()),
        "FLAGS_METRICS_PORT": str(free_port()),
        "FLAGS_SQLITE_PATH": str(tmp_path / "flags.sqlite3"),
        "GATEWAY_HTTP_PORT": str(gateway_port := free_port()),
        "GATEWAY_SQLITE_PATH": str(tmp_path / "gateway.sqlite3"),
    }
    env.pop("SWITCHBOARD_DEV_KEY", None)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        runner = subprocess.Popen(
            [sys.executable, "-m", "scripts.run_suite"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
    try:
        _wait_for(lambda: "Ctrl-C stops everything." in log.read_text(errors="replace"))
        banner = log.read_text(errors="replace")
        assert f"gRPC 127.0.0.1:{grpc_port}" in banner
        client = [sys.executable, "-m", "services.ratelimit.client"]
        check = subprocess.run(
            [*client, "--address", f"127.0.0.1:{grpc_port}", "check", "keys/demo", "free"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert json.loads(check.stdout)["allowed"] is True
        router = [sys.executable, "-m", "services.router.client", "--address"]
        answer = subprocess.run(
            [*router, f"127.0.0.1:{router_port}", "complete", "mock-gpt", "Hello?"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert json.loads(answer.stdout)["served"]["deployment"] == "mock-primary"
        key = re.search(r"dev key +(sb-\S+)", banner)
        assert key is not None, banner
        assert f"http://127.0.0.1:{gateway_port}/api/docs" in banner
        with openai.OpenAI(
            base_url=f"http://127.0.0.1:{gateway_port}/v1", api_key=key.group(1), max_retries=0
        ) as sdk:
            completion = sdk.chat.completions.create(
                model="mock-gpt", messages=[{"role": "user", "content": "Through the gateway?"}]
            )
        assert completion.choices[0].message.content
        _wait_for(lambda: _spend_requests(cost_port) == 2)  # both calls' usage reached the ledger
        os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        code = runner.wait(timeout=30)
    finally:
        reap(runner, timeout=5)
    output = log.read_text(errors="replace")
    assert code == 0, output
    assert output.count('"message": "stopped"') == 5, output  # the services; the gateway: code 0


def test_a_given_development_key_is_adopted_and_kept_across_runs(tmp_path: Path) -> None:
    given = "sb-0123456789ab-" + "k" * 43
    environ = {
        "GATEWAY_SQLITE_PATH": str(tmp_path / "gateway.sqlite3"),
        "SWITCHBOARD_DEV_KEY": given,
    }

    assert dev_key(environ) == given
    assert dev_key(environ) == given  # the second run finds it


def test_a_malformed_development_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    environ = {"GATEWAY_SQLITE_PATH": str(tmp_path / "g.sqlite3"), "SWITCHBOARD_DEV_KEY": "sk-oops"}

    with pytest.raises(SystemExit) as refused:
        dev_key(environ)

    assert "sk-oops" not in str(refused.value)


def _spend_requests(port: int) -> int:
    spend = subprocess.run(
        [sys.executable, "-m", "services.cost.client", "--address", f"127.0.0.1:{port}", "spend"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows = json.loads(spend.stdout).get("rows", [])
    assert all(int(row["cost"]["nanos"]) > 0 for row in rows)  # priced from the suite's file
    return sum(int(row.get("requests", 0)) for row in rows)


def _wait_for(condition: Callable[[], bool], within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the suite did not start"
        time.sleep(0.1)
