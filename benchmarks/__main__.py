"""``python -m benchmarks [--smoke] [--json]``: every scenario of BENCHMARKS.md, one run.

Run from the repository root with the project venv (``make bench``). Each
compared system runs in its own subprocess and venv; this process only
orchestrates, prints the tables and writes ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import _report, _scenarios
from ._systems import compared_systems

RESULTS = Path(__file__).resolve().parent / "results"
FULL = {
    "rounds": 7,
    "round_seconds": 0.1,
    "passes": 2,
    # Scenario 2: wrk runs of e2e_seconds (whole seconds), e2e_runs per system,
    # interleaved, after one e2e_warmup-second run per server (0: none).
    "e2e_seconds": 2,
    "e2e_runs": 8,
    "e2e_warmup": 1,
    "entries": 100_000,
    "bounded_keys": 1_000_000,
    "stampede": 200,
}
# Tiny counts: proves every scenario still runs (make bench-smoke), in well under two minutes.
SMOKE = {
    "rounds": 5,
    "round_seconds": 0.01,
    "passes": 1,
    "e2e_seconds": 1,
    "e2e_runs": 3,
    "e2e_warmup": 0,
    "entries": 1_000,
    "bounded_keys": 10_000,
    "stampede": 200,
}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _header(meta: dict[str, object], versions: dict[str, dict[str, str]], chart: str) -> str:
    lines = [
        "# Benchmarks — latest run",
        "",
        f"`{meta['command']}` on {meta['date']}: {meta['cpus']} x {meta['cpu']}, "
        f"Python {meta['python']}. Ratios are measured side by side in this one run; "
        "absolute numbers are context only (shared, noisy machine).",
        "",
    ]
    for name, found in versions.items():
        lines.append(f"- **{name}**: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    if chart.endswith(".png"):
        lines += ["", f"![hit cost and req/s]({Path(chart).name})"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny counts: checks the harness runs")
    parser.add_argument("--json", action="store_true", help="print the JSON results, not tables")
    parser.add_argument("--scenarios", default="1,2,3,4,5,6", help="comma-separated subset")
    args = parser.parse_args()
    cfg = SMOKE if args.smoke else FULL
    chosen = set(args.scenarios.split(","))
    started = time.monotonic()
    systems = compared_systems()
    versions: dict[str, dict[str, str]] = {}

    def show(section: _report.Section) -> None:
        if not args.json:
            print(section.to_markdown(), flush=True)

    def note(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    sections: list[_report.Section] = []
    steps = [
        ("1", "hit cost in process", lambda: [_scenarios.hit_cost(systems, cfg, versions)]),
        ("2", "end to end (uvicorn + wrk)", lambda: [_scenarios.end_to_end(systems, cfg)]),
        ("3", "memory", lambda: _scenarios.memory(systems, cfg, versions)),
        ("4", "stampede", lambda: _scenarios.stampede(systems, cfg, versions)),
        ("5", "shared store", lambda: _scenarios.shared_store(systems, cfg, versions)),
        ("6", "eviction quality", lambda: [_scenarios.eviction(args.smoke)]),
    ]
    for key, label, run in steps:
        if key in chosen:
            note(f"scenario {key}: {label}")
            for section in run():
                show(section)
                sections.append(section)
    summary = _report.targets_section(sections)
    show(summary)

    # Only a full run of every scenario replaces the kept results.
    stem = "smoke" if args.smoke else "latest" if chosen >= {k for k, _, _ in steps} else "partial"
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "config": cfg,
        "versions": versions,
    }
    hits = next((s.raw for s in sections if s.title.startswith("Scenario 1")), None) or {}
    e2e = next((s.raw for s in sections if s.title.startswith("Scenario 2")), None) or {}
    chart = _report.draw_chart(RESULTS / f"{stem}.png", hits, e2e.get("systems", {}))
    markdown = (
        _header(meta, versions, chart)
        + "\n"
        + "\n".join(s.to_markdown() for s in [*sections, summary])
    )
    (RESULTS / f"{stem}.md").write_text(markdown)
    document = _report.to_json(meta, sections)
    (RESULTS / f"{stem}.json").write_text(json.dumps(document, indent=1) + "\n")
    if args.json:
        print(json.dumps(document, indent=1))
    note(f"wrote {RESULTS / stem}.md, .json; {chart}")


if __name__ == "__main__":
    main()
