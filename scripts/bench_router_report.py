"""The router benchmark's report: what the router adds to calling the upstream directly.

Each round measures the direct baseline and then each router target, so every router figure is
compared with the baseline of its own round: added latency is the router's p50 (p99) minus the
direct p50 (p99), the throughput ratio the router's calls/s over the direct calls/s. Over
rounds, rates, latencies and CPU are medians (`bench_report.combine`), and the added latency
and the ratio are the medians of the per-round figures (the ratio's range is shown when there
is more than one round). A cache hit never reaches the upstream, so its "added" latency is
negative: the time the cache saves.
"""

from __future__ import annotations

import statistics
from typing import Any

from scripts.bench_report import PHASES, combine

BASELINE = "direct"
LABELS = {
    "direct": "upstream directly (HTTP)",
    "complete": "router Complete (not cached)",
    "cache_hit": "router Complete, cache hit",
    "stream": "router StreamComplete, first chunk",
}


def normalise(result: dict[str, Any]) -> dict[str, Any]:
    """A load result in the router's terms: calls/s, and CPU named by process role.

    For the direct target the load's "server" is the upstream; for the others, the router."""
    out = dict(result)
    for phase in PHASES:
        if phase not in result:
            continue
        p = dict(result[phase])
        if "decisions_per_s" in p:
            p["calls_per_s"] = p.pop("decisions_per_s")
        for unused in ("denied", "unchecked"):  # rate-limit outcomes; never a router's
            p.pop(unused, None)
        server = p.pop("server_cpu_pct", None)
        if result["target"] == BASELINE:
            p["router_cpu_pct"], p["upstream_cpu_pct"] = None, server
        else:
            p["router_cpu_pct"] = server
        out[phase] = p
    return out


def aggregate(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per target (in first-seen order) from the normalised per-round results."""
    base = {r["round"]: r for r in raw if r["target"] == BASELINE}
    combined = []
    for target in dict.fromkeys(r["target"] for r in raw):
        runs = [r for r in raw if r["target"] == target]
        entry: dict[str, Any] = {"target": target, "label": LABELS[target], "rounds": len(runs)}
        for phase in PHASES:
            if not all(phase in r for r in runs):
                continue
            entry[phase] = combine([r[phase] for r in runs])
            pairs = [(r[phase], base[r["round"]][phase]) for r in runs if r["round"] in base]
            entry[phase] |= _against_baseline(phase, pairs)
        combined.append(entry)
    return combined


def _against_baseline(
    phase: str, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pct in ("p50", "p99"):
        added = [
            r[f"{pct}_ms"] - b[f"{pct}_ms"]
            for r, b in pairs
            if r[f"{pct}_ms"] is not None and b[f"{pct}_ms"] is not None
        ]
        out[f"added_{pct}_ms"] = statistics.median(added) if added else None
    if phase == "saturation":
        ratios = [r["calls_per_s"] / b["calls_per_s"] for r, b in pairs if b["calls_per_s"]]
        out["ratio_to_direct"] = statistics.median(ratios) if ratios else None
        out["ratio_range"] = [min(ratios), max(ratios)] if ratios else None
    return out


def _num(value: float | None, fmt: str = ".2f", signed: bool = False) -> str:
    if value is None:
        return "-"
    return format(value, ("+" if signed else "") + fmt)


def _cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _ratio(s: dict[str, Any], rounds: int) -> str:
    if s["ratio_to_direct"] is None:
        return "-"
    low, high = s["ratio_range"]
    spread = f" ({low:.2f}-{high:.2f})" if rounds > 1 else ""
    return f"{s['ratio_to_direct']:.2f}{spread}"


def render(results: list[dict[str, Any]], rate: float) -> str:
    """Markdown: the saturation table, the fixed-rate table, then anything that went wrong."""
    rows = [
        "| target | calls/s | p50 ms | p99 ms | added p50 | added p99 | throughput vs direct "
        "| router CPU | upstream CPU | client CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r["saturation"]
        rows.append(
            f"| {r['label']} | {s['calls_per_s']:,.0f} | {_num(s['p50_ms'])} | "
            f"{_num(s['p99_ms'])} | {_num(s['added_p50_ms'], signed=True)} | "
            f"{_num(s['added_p99_ms'], signed=True)} | {_ratio(s, r['rounds'])} | "
            f"{_cpu(s['router_cpu_pct'])} | {_cpu(s['upstream_cpu_pct'])} | "
            f"{_cpu(s['client_cpu_pct'])} |"
        )
    fixed = [r for r in results if "fixed_rate" in r]
    if fixed:
        rows += [
            "",
            f"| target @ {rate:,.0f} rps (open loop) | achieved rps | p50 ms | p99 ms "
            "| added p50 | added p99 | router CPU |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in fixed:
            f = r["fixed_rate"]
            rows.append(
                f"| {r['label']} | {f['achieved_rps']:,.0f} | {_num(f['p50_ms'])} | "
                f"{_num(f['p99_ms'])} | {_num(f['added_p50_ms'], signed=True)} | "
                f"{_num(f['added_p99_ms'], signed=True)} | "
                f"{_cpu(f['router_cpu_pct'])} |"
            )
    return "\n".join(rows + _notes(results))


def _notes(results: list[dict[str, Any]]) -> list[str]:
    notes = []
    for r in results:
        for phase in PHASES:
            p = r.get(phase)
            if p and (p["errors"] or p["dropped"]):
                notes.append(
                    f"- {r['label']} {phase}: errors {p['errors'] or 0}, "
                    f"dropped sends {p['dropped']}"
                )
    return ["", *notes] if notes else []
