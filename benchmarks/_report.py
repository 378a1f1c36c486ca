"""Tables, targets and the chart: everything the runner prints or writes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Target:
    """A goal of BENCHMARKS.md: ``measured op bound`` (op is ``<=``, ``>=`` or ``<``)."""

    what: str
    measured: float | None
    op: str
    bound: float

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        if self.op == "<":
            return self.measured < self.bound
        return self.measured <= self.bound if self.op == "<=" else self.measured >= self.bound

    def goal(self) -> str:
        symbol = {"<=": "≤", ">=": "≥", "<": "<"}[self.op]
        return f"{symbol} {self.bound:g}"

    def mark(self) -> str:
        return {True: "met", False: "NOT MET", None: "n/a"}[self.met]


@dataclass
class Section:
    """One scenario's output: a table, or only a message when it cannot run."""

    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    raw: Any = None

    def to_markdown(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.columns:
            lines.append("| " + " | ".join(self.columns) + " |")
            lines.append("|" + "|".join("---" for _ in self.columns) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in self.rows]
            lines.append("")
        lines += [f"{note}  " for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def ratio(ours: float | None, this: float | None) -> float | None:
    """The "vs. ours" figure: ours ÷ this system (same unit, same run)."""
    if ours is None or this is None or this == 0:
        return None
    return ours / this


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if 0 < abs(value) < 10**-digits:  # e.g. a ratio of 0.0001 must not print as 0.00
        return f"{value:.2g}"
    return f"{value:,.{digits}f}"


def target_cells(target: Target | None) -> list[str]:
    return ["", ""] if target is None else [target.goal(), target.mark()]


def targets_section(sections: list[Section]) -> Section:
    summary = Section("Targets (BENCHMARKS.md)", ["target", "measured", "goal", "status"])
    for section in sections:
        for t in section.targets:
            digits = 0 if t.measured is not None and abs(t.measured) >= 100 else 2
            summary.rows.append([t.what, fmt(t.measured, digits), t.goal(), t.mark()])
    met = sum(t.met is True for s in sections for t in s.targets)
    total = sum(t.met is not None for s in sections for t in s.targets)
    summary.notes.append(f"{met} of {total} measurable targets met.")
    return summary


def to_json(meta: dict[str, Any], sections: list[Section]) -> dict[str, Any]:
    return {
        "meta": meta,
        "scenarios": {s.title: s.raw for s in sections},
        "targets": [dict(asdict(t), met=t.met) for s in sections for t in s.targets],
    }


def draw_chart(path: Path, hitcost: dict[str, dict[str, Any]], e2e: dict[str, Any]) -> str:
    """Hit cost per variant (log scale) and end-to-end req/s; returns what happened."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart (make bench installs it)"
    if not hitcost and not e2e:
        return "no chart: scenarios 1 and 2 were not run"
    systems = list(hitcost)
    # One colour per system in both panels; either panel may be empty (a run of
    # scenario 2 without scenario 1 has no hit costs, and the reverse).
    palette = list(dict.fromkeys([*hitcost, *e2e]))
    variants = ["plain", "edge", "304", "auth", "query10", "1mib", "gzip"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(1, len(systems))
    for i, name in enumerate(systems):
        values = [(hitcost[name].get(v) or {}).get("us") or 0 for v in variants]
        xs = [j + i * width for j in range(len(variants))]
        left.bar(xs, values, width, label=name, color=f"C{palette.index(name)}")
    left.set_xticks([j + 0.4 - width / 2 for j in range(len(variants))], variants)
    left.set_ylabel("µs per hit, in process (log; lower is better)")
    left.set_title("Scenario 1: hit cost" if systems else "Scenario 1: not run")
    if systems:
        left.set_yscale("log")
        left.legend(fontsize=8)
    names = [n for n, r in e2e.items() if r.get("rps")]
    right.bar(names, [e2e[n]["rps"] for n in names], color=[f"C{palette.index(n)}" for n in names])
    right.set_ylabel("requests/s, uvicorn + wrk (higher is better)")
    right.set_title("Scenario 2: end-to-end hot-key hits" if names else "Scenario 2: not run")
    right.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart: {path}"
