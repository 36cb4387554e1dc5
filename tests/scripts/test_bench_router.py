"""`make bench-router` end to end with a tiny load: structure of the report, never timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts.bench_router_load import TARGETS
from scripts.bench_router_report import aggregate

ROOT = Path(__file__).resolve().parents[2]


def test_one_tiny_run_reports_every_target_against_the_direct_baseline(tmp_path: Path) -> None:
    output = tmp_path / "router.json"
    tiny = ["--duration", "0.2", "--warmup", "0.1", "--rate", "50", "--concurrency", "8"]
    run = subprocess.run(
        [sys.executable, "-m", "scripts.bench_router", *tiny, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(output.read_text())
    assert report["meta"]["complete"] is True
    results = {r["target"]: r for r in report["results"]}
    assert list(results) == list(TARGETS)
    for target, result in results.items():
        for phase in ("saturation", "fixed_rate"):
            numbers = result[phase]
            assert numbers["errors"] == {}, (target, phase)  # a cache miss would be one
            assert numbers["ok"] == numbers["calls"], (target, phase)
            if numbers["calls"]:  # a saturation window this short may hold no finished call
                assert 0 < numbers["p50_ms"] <= numbers["p99_ms"], (target, phase)
        # The open loop measures every call it schedules, however slow the machine.
        assert result["fixed_rate"]["calls"] > 0, target
        assert result["fixed_rate"]["achieved_rps"] > 0
        assert result["fixed_rate"]["added_p50_ms"] is not None, target
    assert results["complete"]["fixed_rate"]["router_cpu_pct"] is not None
    assert "| router Complete, cache hit |" in run.stdout


def _phase(calls_per_s: float, p50: float, p99: float) -> dict[str, Any]:
    counts = {"calls": 10, "ok": 10, "errors": {}, "dropped": 0}
    return counts | {"calls_per_s": calls_per_s, "p50_ms": p50, "p99_ms": p99}


def test_added_latency_and_ratio_compare_each_round_with_its_own_baseline() -> None:
    raw = [
        {"target": "direct", "round": 0, "saturation": _phase(100, 20, 30)},
        {"target": "complete", "round": 0, "saturation": _phase(50, 25, 40)},
        {"target": "direct", "round": 1, "saturation": _phase(200, 10, 10)},
        {"target": "complete", "round": 1, "saturation": _phase(200, 13, 30)},
        {"target": "direct", "round": 2, "saturation": _phase(100, 20, 20)},
        {"target": "complete", "round": 2, "saturation": _phase(80, 21, 50)},
    ]
    complete = aggregate(raw)[1]["saturation"]
    assert complete["added_p50_ms"] == 3  # median of 5, 3, 1
    assert complete["added_p99_ms"] == 20  # median of 10, 20, 30
    assert complete["ratio_to_direct"] == 0.8  # median of 0.5, 1.0, 0.8
    assert complete["ratio_range"] == [0.5, 1.0]
    assert complete["calls_per_s"] == 80  # the median over rounds
