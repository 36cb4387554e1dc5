"""`make bench-gateway`: the fake upstream's answers, a tiny end-to-end run of the harness on
Switchboard and the baseline (structure of the report, never timings), and the verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts.bench_fake_openai import answer
from scripts.bench_gateways import render, verdict

ROOT = Path(__file__).resolve().parents[2]


def _body(response: bytes) -> tuple[str, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


def test_the_fake_upstream_answers_a_completion_and_a_stream_with_usage() -> None:
    status, body = _body(answer(b"/v1/chat/completions", b"POST", b'{"model": "m"}'))
    assert status == "HTTP/1.1 200 OK"
    completion = json.loads(body)
    assert completion["model"] == "m"
    assert completion["usage"]["total_tokens"] == 17
    status, body = _body(
        answer(
            b"/v1/chat/completions",
            b"POST",
            b'{"model": "m", "stream": true, "stream_options": {"include_usage": true}}',
        )
    )
    assert status == "HTTP/1.1 200 OK"
    assert b'"usage"' in body
    assert body.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")  # chunked: the last chunk, then 0


def test_the_fake_upstream_refuses_what_it_does_not_serve() -> None:
    assert _body(answer(b"/v1/embeddings", b"POST", b"{}"))[0] == "HTTP/1.1 404 Not Found"
    assert _body(answer(b"/v1/chat/completions", b"GET", b""))[0] == "HTTP/1.1 404 Not Found"
    assert _body(answer(b"/v1/chat/completions", b"POST", b"{"))[0] == "HTTP/1.1 400 Bad Request"


def test_one_tiny_run_measures_switchboard_against_the_direct_baseline(tmp_path: Path) -> None:
    output = tmp_path / "gateways.json"
    tiny = ["--duration", "0.5", "--warmup", "0.2", "--connections", "4"]
    targets = ["--targets", "direct,switchboard", "--output", str(output)]
    run = subprocess.run(
        [sys.executable, "-m", "scripts.bench_gateways", *tiny, *targets],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(output.read_text())
    assert list(report["targets"]) == ["direct", "switchboard"]
    ours = report["targets"]["switchboard"]
    assert ours["processes"] == 6
    assert ours["peak_rss_mib"] > 0
    for run_name in ("plain@1", "plain@4", "stream@1", "stream@4"):
        measured = ours[run_name]
        assert measured["errors"] == {}, run_name  # every answer was a checked completion
        assert measured["calls"] > 0, run_name
        assert measured["server_cpu_ms_per_call"] > 0, run_name
    assert "| switchboard |" in render(report)


def _target(calls: int, p50: float, rps: float) -> dict[str, Any]:
    run = {"calls": calls, "p50_ms": p50, "p99_ms": p50, "rps": rps, "errors": {}}
    return {f"{mode}@{n}": run for mode in ("plain", "stream") for n in (1, 50)}


def test_the_verdict_compares_added_latency_and_throughput_with_portkey() -> None:
    targets = {
        "direct": _target(100, 1.0, 1000),
        "switchboard": _target(100, 3.0, 400),
        "portkey": _target(100, 4.0, 300),
    }
    lines = verdict(targets, 50)
    assert "added p50 2.00 ms vs Portkey 3.00 ms (met)" in lines[1]
    assert "400 vs 300 req/s (ratio 1.33, met)" in lines[1]
    targets["portkey"]["stream@1"] = {**targets["portkey"]["stream@1"], "calls": 0}
    assert "not comparable" in verdict(targets, 50)[2]
    assert "not available" in verdict({"direct": targets["direct"]}, 50)[1]
