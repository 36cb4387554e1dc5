"""`make bench-prompts` on a tiny run: both paths measured in one run, their ratio, the
invalidation delay and the consistency check reported (the figures are the README's business)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from scripts.bench_prompts import main
from tests.conftest import POSTGRES_ADMIN_URL

TINY = [
    "--prompts",
    "5",
    "--calls",
    "50",
    "--duration",
    "0.2",
    "--concurrency",
    "2",
    "--moves",
    "3",
]


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_tiny_run_reports_both_paths_and_their_ratio(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    output = tmp_path / "prompts.json"
    argv = [*TINY, "--output", str(output)]
    if database == "postgres":
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
        server = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg")
        argv += ["--database-url", server.render_as_string(hide_password=False)]

    assert main(argv) == 0

    report = json.loads(output.read_text())
    assert report["meta"]["database"] == database.replace("postgres", "postgresql")
    result = report["result"]
    for path in ("rpc", "cached"):
        assert result[path]["latency"]["calls"] == 50
        assert result[path]["throughput"]["calls"] > 0
    assert result["ratios"]["throughput_cached_over_rpc"] > 0
    assert result["invalidation"]["moves"] == 3
    assert result["consistent"] is True
    assert result["client_stats"]["invalidations"] >= 3
