"""`make bench-flags` on a tiny run: it measures every target, checks that both provider modes
agree, times the propagation of changes and writes its report (the figures themselves are
the README's business, not a test's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.bench_flags import main

pytestmark = pytest.mark.slow


def test_a_tiny_run_reports_each_target_the_ratios_and_propagation(tmp_path: Path) -> None:
    output = tmp_path / "flags.json"

    status = main(
        [
            "--duration", "0.3", "--rounds", "1", "--concurrency", "4", "--users", "20",
            "--changes", "3", "--output", str(output),
        ]
    )  # fmt: skip

    assert status == 0
    report = json.loads(output.read_text())
    summary = report["summary"]
    assert summary["agree"] is True
    assert report["agreement_checked"] == 3 * 20
    assert set(summary["per_s"]) == {"rpc", "rpc_async", "in_process"}
    assert all(rate > 0 for rate in summary["per_s"].values())
    assert summary["in_process_over_rpc"] > 0
    assert len(report["propagation_ms"]) == 3
    [round_] = report["rounds"]
    assert all(round_[target]["evaluations"] > 0 for target in summary["per_s"])
