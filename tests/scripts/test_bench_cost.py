"""`make bench-cost` on a tiny run: it measures every path, checks exactness and writes its
report (the figures themselves are the README's business, not a test's)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import make_url

from scripts.bench_cost import main
from tests.conftest import POSTGRES_ADMIN_URL


def test_a_tiny_run_reports_both_paths_their_ratio_and_exactness(
    tmp_path: Path, postgres_url: str
) -> None:
    del postgres_url  # only to skip (or fail in CI) when no PostgreSQL answers
    server = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg")
    output = tmp_path / "cost.json"

    status = main(
        [
            "--database-url",
            server.render_as_string(hide_password=False),
            "--events",
            "300",
            "--producers",
            "3",
            "--call-size",
            "20",
            "--max-batch",
            "50",
            "--output",
            str(output),
        ]
    )

    assert status == 0
    report = json.loads(output.read_text())
    assert report["meta"]["events"] == 300
    summary = report["summary"]
    assert summary["exact"] is True
    assert summary["ledger_events_per_s"] > summary["ledger_rows_per_s"] > 0  # 60 were repeats
    for shape in ("keyed", "keyless"):
        for how in ("unnest", "executemany", "copy"):
            assert summary[f"raw_{shape}_{how}_rows_per_s"] > 0
    assert summary["ratio_to_raw"] > 0
    [round_] = report["rounds"]
    assert round_["exactness"]["unique_events"] == round_["exactness"]["ledger_events"] == 240
    assert round_["exactness"]["ledger_nanos"] == round_["exactness"]["expected_nanos"] > 0
    assert round_["exactness"]["aggregates_exact"] is True
