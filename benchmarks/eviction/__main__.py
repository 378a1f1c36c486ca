"""``python -m benchmarks.eviction [--smoke] [--json]``: scenario 6, eviction quality.

Builds the simulator (``sim.cpp``, CMake option ``FCR_BUILD_BENCH_TOOLS``) with
the venv's cmake and ninja into ``build/eviction`` when needed, replays seeded
Zipf traces through a single-shard ``fcr::Store`` per policy (a miss puts the
key) and prints the miss ratios as a markdown table, or ``--json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "eviction"
SIM = BUILD / "benchmarks" / "eviction" / "fcr_eviction_sim"
POLICIES = {"lru": "LRU", "sieve": "SIEVE", "s3fifo": "S3-FIFO"}
FULL = {"keys": 100_000, "requests": 2_000_000}
SMOKE = {"keys": 10_000, "requests": 200_000}


def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name  # the venv's cmake / ninja
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: run `make install` (it puts {name} in .venv)")
    return found


def build() -> Path:
    """Configures once, then lets ninja decide what is stale; build output goes to stderr."""
    commands = []
    if not (BUILD / "build.ninja").exists():
        commands.append(
            [
                _tool("cmake"), "-S", str(ROOT), "-B", str(BUILD), "-G", "Ninja",
                f"-DCMAKE_MAKE_PROGRAM={_tool('ninja')}", "-DCMAKE_BUILD_TYPE=Release",
                "-DFCR_BUILD_BENCH_TOOLS=ON", "-DFCR_BUILD_TESTS=OFF",
            ]
        )  # fmt: skip
    commands.append([_tool("cmake"), "--build", str(BUILD), "--target", "fcr_eviction_sim"])
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stdout + done.stderr)
            raise SystemExit(f"building the eviction simulator failed: {' '.join(command)}")
    return SIM


def measure(smoke: bool) -> dict[str, Any]:
    """Runs the simulator; returns its header and one row per trace and capacity."""
    sizes = SMOKE if smoke else FULL
    args = [str(build()), "--keys", str(sizes["keys"]), "--requests", str(sizes["requests"])]
    lines = subprocess.run(args, capture_output=True, text=True, check=True).stdout.splitlines()
    header, results = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    rows: dict[tuple[str, float], dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(
            (r["trace"], r["capacity_pct"]),
            {k: r[k] for k in ("trace", "capacity_pct", "budget", "capacity", "requests")},
        )
        row.setdefault("miss_ratio", {})[r["policy"]] = r["misses"] / r["requests"]
    for row in rows.values():
        lru = row["miss_ratio"]["lru"]
        row["vs_lru"] = {p: m / lru if lru else None for p, m in row["miss_ratio"].items()}
    return {**header, "rows": list(rows.values())}


def capacity_label(row: dict[str, Any]) -> str:
    if row["budget"] == "bytes":
        return f"{row['capacity_pct']:g} % ({row['capacity'] / 1e6:.2f} MB)"
    return f"{row['capacity_pct']:g} % ({row['capacity']:,} entries)"


def to_markdown(result: dict[str, Any]) -> str:
    default = result["default"]
    names = {p: f"{label} (default)" if p == default else label for p, label in POLICIES.items()}
    others = [p for p in POLICIES if p != "lru"]
    columns = ["trace", "capacity", *(f"{names[p]} miss ratio" for p in POLICIES)]
    columns += [f"{POLICIES[p]} vs LRU" for p in others]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in result["rows"]:
        cells = [row["trace"], capacity_label(row)]
        cells += [f"{row['miss_ratio'][p]:.4f}" for p in POLICIES]
        cells += [f"{row['vs_lru'][p]:.3f}" for p in others]
        lines.append("| " + " | ".join(cells) + " |")
    beaten = all(row["vs_lru"][default] < 1 for row in result["rows"])
    lines += [
        "",
        f"{result['keys']:,} Zipf keys, {result['requests']:,} Zipf requests per trace (seed "
        f"{result['seed']}); the scan is {result['keys']:,} fresh keys, once each, from a quarter "
        "of the way in. Capacity is a share of the Zipf keys (entry budget) or of their bytes "
        "(byte budget). Miss ratio = misses ÷ requests through a single-shard store; "
        "vs LRU = miss ratio ÷ LRU's (below 1: fewer misses).",
        f"Goal (BENCHMARKS.md): the default policy ({POLICIES[default]}) below LRU on every "
        f"trace: {'met' if beaten else 'NOT MET'}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.eviction", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small traces (about a second)")
    parser.add_argument("--json", action="store_true", help="print JSON, not the table")
    args = parser.parse_args()
    result = measure(args.smoke)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(to_markdown(result), end="")


if __name__ == "__main__":
    main()
