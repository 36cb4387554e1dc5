"""The rate-limit benchmark's report: combines rounds and renders the Markdown tables.

With `--rounds N` every target is measured N times, interleaved (no-op, CheckQuota,
ShouldRateLimit, no-op, ...), so drift in what else the machine runs hits every target alike.
Per target, rates, latencies and CPU are the median over rounds, counts and errors the sum; the
ratio to the no-op is the median of each round's ratio (its range is shown when N > 1).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

PHASES = ("saturation", "fixed_rate")
SUMMED = frozenset({"calls", "ok", "denied", "unchecked", "dropped"})


def combine(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """One phase's results over rounds: rates, latencies and CPU the median, counts the sum."""
    out: dict[str, Any] = {}
    for key, first in phases[0].items():
        values = [p[key] for p in phases if p.get(key) is not None]
        if key == "errors":
            errors: Counter[str] = Counter()
            for p in phases:
                errors.update(p["errors"])
            out[key] = dict(errors)
        elif key in SUMMED:
            out[key] = sum(values)
        elif isinstance(first, int | float) and not isinstance(first, bool):
            out[key] = statistics.median(values) if values else None
        else:
            out[key] = first
    return out


def aggregate(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per target (in first-seen order) from the per-round results in `raw`."""
    noop = {r["round"]: r["saturation"]["decisions_per_s"] for r in raw if r["target"] == "noop"}
    targets = list(dict.fromkeys(r["target"] for r in raw))
    combined = []
    for target in targets:
        runs = [r for r in raw if r["target"] == target]
        entry: dict[str, Any] = {"target": target, "label": runs[0]["label"]}
        entry["server"], entry["rounds"] = runs[0]["server"], len(runs)
        for phase in PHASES:
            if all(phase in r for r in runs):
                entry[phase] = combine([r[phase] for r in runs])
        ratios = [
            r["saturation"]["decisions_per_s"] / noop[r["round"]]
            for r in runs
            if noop.get(r["round"])
        ]
        entry["saturation"]["ratio_to_noop"] = statistics.median(ratios) if ratios else None
        entry["saturation"]["ratio_range"] = [min(ratios), max(ratios)] if ratios else None
        combined.append(entry)
    return combined


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _ratio(s: dict[str, Any], rounds: int) -> str:
    if s["ratio_to_noop"] is None:
        return "-"
    low, high = s["ratio_range"]
    spread = f" ({low:.2f}-{high:.2f})" if rounds > 1 else ""
    return f"{s['ratio_to_noop']:.2f}{spread}"


def render(results: list[dict[str, Any]], rate: float) -> str:
    """Markdown: the saturation table, the fixed-rate table, then anything that went wrong."""
    rows = [
        "| target | decisions/s | p50 ms | p99 ms | ratio to no-op | server CPU | client CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["saturation"]
        rows.append(
            f"| {r['label']} | {s['decisions_per_s']:,.0f} | {_ms(s['p50_ms'])} | "
            f"{_ms(s['p99_ms'])} | {_ratio(s, r['rounds'])} | "
            f"{_pct(s['server_cpu_pct'])} | {_pct(s['client_cpu_pct'])} |"
        )
    fixed = [r for r in results if "fixed_rate" in r]
    if fixed:
        rows += [
            "",
            f"| target @ {rate:,.0f} rps (open loop) | achieved rps | p50 ms | p99 ms "
            "| % > 20 ms | server CPU |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in fixed:
            f = r["fixed_rate"]
            over = "-" if f["over_20ms_pct"] is None else f"{f['over_20ms_pct']:.2f}"
            rows.append(
                f"| {r['label']} | {f['achieved_rps']:,.0f} | {_ms(f['p50_ms'])} | "
                f"{_ms(f['p99_ms'])} | {over} | {_pct(f['server_cpu_pct'])} |"
            )
    notes = []
    for r in results:
        for phase in PHASES:
            p = r.get(phase)
            if p and (p["errors"] or p["denied"] or p["unchecked"] or p["dropped"]):
                notes.append(
                    f"- {r['label']} {phase}: errors {p['errors'] or 0}, denied {p['denied']}, "
                    f"unchecked (failure mode) {p['unchecked']}, dropped sends {p['dropped']}"
                )
    return "\n".join(rows + (["", *notes] if notes else []))
