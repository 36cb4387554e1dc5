"""The command-line client against a real in-process service."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.ratelimit import client
from services.ratelimit.app import build
from services.ratelimit.settings import load
from svckit.testing import serving


async def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    service = build(load({}))
    async with serving(service.app) as (server, _):
        address = f"127.0.0.1:{server.port}"
        code = await asyncio.to_thread(client.main, ["--address", address, *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def test_check_prints_the_decision_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = await _run(capsys, "check", "keys/cli", "free", "--tokens", "5")
    assert code == 0
    reply = json.loads(out)
    assert reply["allowed"] is True
    assert len(reply["limits"]) == 3


async def test_tiers_usage_and_envoy_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert (await _run(capsys, "tiers"))[0] == 0
    code, out, _ = await _run(capsys, "usage", "keys/cli", "pro", "--model", "o1")
    assert code == 0
    assert {limit.get("model") for limit in json.loads(out)["limits"]} == {None, "o1"}


async def test_errors_print_the_status_and_exit_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await _run(capsys, "check", "keys/cli", "platinum")
    assert code == 1
    assert err.startswith("INVALID_ARGUMENT")
    code, _, err = await _run(capsys, "envoy", "llm", "api_key=x")
    assert (code, err.split(":")[0]) == (1, "FAILED_PRECONDITION")
