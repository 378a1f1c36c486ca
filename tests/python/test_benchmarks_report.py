"""The benchmark report's chart draws whichever scenarios ran (issue 12: a run of
scenarios 2 and 5 without 1 crashed drawing it, and wrote no result files)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib")  # a benchmark tool (make bench), not a test dependency
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks import _report

HITCOST: dict[str, dict[str, Any]] = {
    "ours": {"plain": {"us": 1.5}, "304": {"us": 1.4}},
    "seed": {"plain": {"us": 40.0}},
}
E2E: dict[str, Any] = {"ours": {"rps": 9000.0}, "seed": {"rps": 2000.0}, "cashews": {"rps": 0}}


@pytest.mark.parametrize(
    ("hitcost", "e2e"),
    [(HITCOST, E2E), ({}, E2E), (HITCOST, {}), ({"seed": HITCOST["seed"]}, E2E)],
    ids=["both", "scenario-2-only", "scenario-1-only", "ours-only-in-scenario-2"],
)
def test_the_chart_is_drawn_for_any_subset_of_scenarios(
    tmp_path: Path, hitcost: dict[str, dict[str, Any]], e2e: dict[str, Any]
) -> None:
    path = tmp_path / "chart.png"
    assert _report.draw_chart(path, hitcost, e2e) == f"chart: {path}"
    assert path.stat().st_size > 0


def test_no_chart_without_scenarios_1_and_2(tmp_path: Path) -> None:
    assert "not run" in _report.draw_chart(tmp_path / "chart.png", {}, {})
