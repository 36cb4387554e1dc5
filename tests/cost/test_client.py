"""The cost service's command-line client against a real in-process service."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from services.cost import client
from services.cost.app import build
from services.cost.settings import CostSettings
from svckit.testing import serving


async def test_budgets_spend_prices_and_alerts_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = build(CostSettings(sqlite_path=tmp_path / "cost.sqlite3"), environ={})
    async with serving(service.app) as (server, _):
        address = ["--address", f"127.0.0.1:{server.port}"]

        async def run(*argv: str) -> tuple[int, str, str]:
            code = await asyncio.to_thread(client.main, [*address, *argv])
            out, err = capsys.readouterr()
            return code, out, err

        created = await run("budget", "tenants/acme", "25.5", "--hard", "--period", "weekly")
        listed = await run("budgets", "--scope", "tenants/acme")
        spend = await run("spend", "--group-by", "model", "day", "--days", "7")
        price = await run("price", "openai", "gpt-4o")
        alerts = await run("alerts")
        refused = await run("budget", "galaxies/x", "1")
    assert created[0] == 0
    budget = json.loads(created[1])["budget"]
    assert (budget["limit"]["nanos"], budget["period"]) == ("25500000000", "BUDGET_PERIOD_WEEKLY")
    assert len(json.loads(listed[1])["statuses"]) == 1
    assert (spend[0], price[0], alerts[0]) == (0, 0, 0)
    assert json.loads(price[1])["price"]["source"] == "default"
    assert refused[0] == 1
    assert refused[2].startswith("INVALID_ARGUMENT")
