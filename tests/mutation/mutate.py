"""``make mutate``: how many planted one-line mistakes the test suite catches.

Two parts, both run in scratch copies under ``build/mutation/`` (the working
tree is never touched):

* **Python**: mutmut mutates the request flow and the backends
  (``tests/mutation/mutmut.cfg`` lists the files) and runs, for each mutant,
  the tests that reach the mutated function. Mutants listed in
  ``tests/mutation/equivalent.toml`` (each with a one-line reason) count as
  killed; the score is (killed + equivalent) / mutants, per file.
* **Engine**: each ``tests/mutation/engine/*.patch`` is one mistake in a
  safety rule of the C++ engine or the binding. It is applied to the scratch
  copy, the GoogleTest binary and the Python module are rebuilt
  (incrementally), ctest runs, and pytest runs when ctest did not kill it.

Prints the score per area and every surviving mutant, and exits non-zero when
an engine mutant survives or the Python score is below 90 %.

Usage: ``python tests/mutation/mutate.py [--only python|engine] [--max-children N]``
(run by ``make mutate`` inside ``.venv-mutate``), or ``--requirements`` to
print what the mutation venv needs from pyproject.toml.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "mutation"
WORK = ROOT / "build" / "mutation"
TREE = WORK / "tree"  # scratch copy of the repository; engine patches are applied here
BUILD = WORK / "tree-build"  # its CMake build: the GoogleTest binary and the _core module
PYWORK = WORK / "python"  # mutmut's workspace
PACKAGE = "fastapi_caching_route"
PYTHON_TARGET = 0.90
TEST_TIMEOUT = 900  # seconds for one pytest run against an engine mutant

# mutmut's result codes (mutmut.stats.status_by_exit_code); a timeout is a kill
# (the tests noticed: they hung), "suspicious" finished but slowly and counts as
# a survivor.
KILLED_STATUSES = {"killed", "timeout", "caught by type check"}
UNCHECKED = "not checked"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("python", "engine"))
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--requirements", action="store_true")
    parser.add_argument(
        "--every-suite",
        action="store_true",
        help="run pytest against engine mutants that ctest already killed (slower)",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="forget mutmut's earlier verdicts and test everything"
    )
    parser.add_argument(
        "--mutants",
        nargs="+",
        metavar="NAME",
        help="test only these mutmut mutants (e.g. the survivors a new test should kill)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="print the Python score from the verdicts kept in build/mutation; run nothing",
    )
    args = parser.parse_args(argv)
    if args.requirements:
        print("\n".join(_requirements()))
        return 0
    if args.report:
        report = _apply_equivalents(_mutmut_results(diffs=True))
        print("\n".join(report.lines()))
        return 0 if report.score() >= PYTHON_TARGET else 1

    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    _step("copying the repository to build/mutation/tree")
    _copy_tree()
    _step("building the engine tests and the _core module (unmutated)")
    _build()
    _step("checking that the unmutated build passes ctest and pytest")
    for suite, outcome in (("ctest", _ctest()), ("pytest", _pytest())):
        if not outcome.passed:
            print(f"the unmutated code fails {suite} ({outcome.detail}): fix that first")
            return 2

    lines: list[str] = []
    ok = True
    if args.only in (None, "python"):
        report = _python_mutants(args.max_children, args.fresh, args.mutants)
        lines += report.lines()
        ok &= report.score() >= PYTHON_TARGET
    if args.only in (None, "engine"):
        results = _engine_mutants(args.every_suite)
        lines += _engine_lines(results)
        ok &= all(r.killed for r in results)
    minutes = (time.monotonic() - started) / 60
    targets = {
        None: f"every engine mutant killed, >= {PYTHON_TARGET:.0%} of Python mutants "
        "killed or equivalent",
        "python": f">= {PYTHON_TARGET:.0%} of Python mutants killed or equivalent",
        "engine": "every engine mutant killed",
    }
    lines.append(
        f"make mutate took {minutes:.0f} min; target ({targets[args.only]}): "
        + ("met" if ok else "NOT met")
    )
    summary = "\n".join(lines)
    (WORK / "summary.txt").write_text(summary + "\n")
    print("\n" + summary)
    return 0 if ok else 1


def _step(message: str) -> None:
    print(f"--- {message}", flush=True)


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["test"]]


def _run(
    command: Sequence[str | os.PathLike[str]], **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(c) for c in command], text=True, **kwargs
    )


# --- the scratch copy and its build -----------------------------------------------------


def _repository_files() -> list[str]:
    listed = _run(
        ["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
    )
    if listed.returncode != 0:
        raise SystemExit("make mutate needs a git checkout (it copies the tracked files)")
    return [name for name in listed.stdout.split("\0") if name]


def _copy_tree() -> None:
    """Brings the scratch copy up to date with the working tree. Only files that
    differ are rewritten, with a new mtime, so the build recompiles exactly those
    (a mutated file left by an interrupted run included)."""
    files = {Path(name) for name in _repository_files() if (ROOT / name).is_file()}
    if TREE.exists():
        for existing in TREE.rglob("*"):
            if (existing.is_file() or existing.is_symlink()) and (
                existing.relative_to(TREE) not in files
            ):
                existing.unlink()
    for name in files:
        _sync_file(ROOT / name, TREE / name, keep_mtime=False)
    # The tests read the distribution's version (importlib.metadata).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    info = TREE / "src" / f"{PACKAGE}-{project['version']}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is missing: run make mutate (it installs it in .venv-mutate)")
    return found


def _build() -> None:
    """Configures (once) and builds the scratch tree; links the module into its src/."""
    if not (BUILD / "CMakeCache.txt").exists():
        configured = _run(
            [
                _tool("cmake"),
                "-S",
                TREE,
                "-B",
                BUILD,
                "-G",
                "Ninja",
                f"-DCMAKE_MAKE_PROGRAM={_tool('ninja')}",
                "-DFCR_BUILD_TESTS=ON",
                "-DFCR_BUILD_PYTHON=ON",
                f"-DPython_EXECUTABLE={sys.executable}",
            ],
            capture_output=True,
        )
        if configured.returncode != 0:
            raise SystemExit("cmake configure failed:\n" + configured.stdout + configured.stderr)
    built = _compile()
    if built is not None:
        raise SystemExit("the unmutated tree does not build:\n" + built)
    [core] = sorted((BUILD / "bindings").glob("_core*.so"))
    link = TREE / "src" / PACKAGE / core.name
    link.unlink(missing_ok=True)
    link.symlink_to(core)


def _compile() -> str | None:
    """Builds the tree; returns the compiler's output on failure."""
    built = _run([_tool("cmake"), "--build", BUILD], capture_output=True)
    return None if built.returncode == 0 else built.stdout[-4000:] + built.stderr[-4000:]


@dataclass
class Outcome:
    passed: bool
    detail: str = ""


def _ctest() -> Outcome:
    ran = _run(
        [_tool("ctest"), "--test-dir", BUILD, "--output-on-failure", "-j", "2"],
        capture_output=True,
        timeout=TEST_TIMEOUT,
    )
    failed = re.findall(r"^\s*\d+ - (\S+) \(Failed\)", ran.stdout, re.MULTILINE)
    return Outcome(ran.returncode == 0, ", ".join(failed[:3]) + (" ..." if len(failed) > 3 else ""))


def _pytest() -> Outcome:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(TREE / "src")
    try:
        ran = _run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/python"],
            cwd=TREE,
            env=env,
            capture_output=True,
            timeout=TEST_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return Outcome(False, "timed out")
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", ran.stdout, re.MULTILINE)
    return Outcome(ran.returncode == 0, failed[0] if failed else ran.stdout[-300:].strip())


# --- Python mutants (mutmut) ------------------------------------------------------------


@dataclass
class Mutant:
    name: str
    status: str
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    reason: str = ""

    @property
    def function(self) -> str:
        return self.name.rsplit("__mutmut_", 1)[0]

    @property
    def module(self) -> str:
        # fastapi_caching_route._plan.xǁCachePlanǁhandle__mutmut_3 -> fastapi_caching_route._plan
        return re.split(r"\.x[ǁ_]", self.name, maxsplit=1)[0]

    def diff(self) -> str:
        return " / ".join([*(f"- {r}" for r in self.removed), *(f"+ {a}" for a in self.added)])


@dataclass
class PythonReport:
    mutants: list[Mutant]
    stale: list[str] = field(default_factory=list)

    def score(self) -> float:
        if not self.mutants:
            return 0.0
        caught = sum(m.status in KILLED_STATUSES or bool(m.reason) for m in self.mutants)
        return caught / len(self.mutants)

    def lines(self) -> list[str]:
        by_area: dict[str, list[Mutant]] = {}
        for mutant in self.mutants:
            by_area.setdefault(_area(mutant.module), []).append(mutant)
        out = [
            "Python mutants (mutmut; killed includes timeouts):",
            f"  {'area':<24}{'mutants':>8}{'killed':>8}{'equiv.':>8}{'survived':>9}"
            f"{'unchecked':>10}{'score':>8}",
        ]
        for area in [*sorted(by_area), "total"]:
            group = self.mutants if area == "total" else by_area[area]
            killed = sum(m.status in KILLED_STATUSES for m in group)
            equivalent = sum(m.status not in KILLED_STATUSES and bool(m.reason) for m in group)
            unchecked = sum(m.status == UNCHECKED for m in group)
            survived = len(group) - killed - equivalent - unchecked
            # A mutant not checked yet (an interrupted run) counts as surviving.
            score = (killed + equivalent) / len(group) if group else 0.0
            out.append(
                f"  {area:<24}{len(group):>8}{killed:>8}{equivalent:>8}{survived:>9}"
                f"{unchecked:>10}{score:>8.1%}"
            )
        survivors = [
            m
            for m in self.mutants
            if m.status not in KILLED_STATUSES and m.status != UNCHECKED and not m.reason
        ]
        if survivors:
            out.append(f"Surviving Python mutants ({len(survivors)}):")
            for mutant in survivors:
                out.append(f"  {mutant.name} [{mutant.status}]: {mutant.diff()}")
        for entry in self.stale:
            out.append(f"  note: equivalent.toml entry matches no surviving mutant: {entry}")
        return out


def _area(module: str) -> str:
    return module.removeprefix(f"{PACKAGE}.").replace(".", "/") + ".py"


def _python_mutants(max_children: int, fresh: bool, only: list[str] | None) -> PythonReport:
    reuse = not fresh and (PYWORK / "mutants").is_dir()
    _step("Python mutants: " + ("updating" if reuse else "preparing") + " build/mutation/python")
    if not reuse and PYWORK.exists():
        shutil.rmtree(PYWORK)
    _sync(TREE / "src", PYWORK / "src")  # the module itself, not the link to it
    _sync(TREE / "tests" / "python", PYWORK / "tests" / "python")
    _sync(TREE / "examples", PYWORK / "examples")  # test_gateway.py loads examples/gateway.py
    if reuse:
        # mutmut copies src/ into mutants/ once and later rewrites only the .py
        # files: the compiled _core module, its stub and the metadata must follow.
        for other in (PYWORK / "src").rglob("*"):
            if other.is_file() and other.suffix != ".py":
                _sync_file(other, PYWORK / "mutants" / other.relative_to(PYWORK))
        # mutmut regenerates a file's mutants (or its plain copy, for a module
        # it does not mutate) only when the source is newer than what it wrote:
        # a source with an older mtime (a checkout, a file newly listed in
        # mutmut.cfg) would be tested as it was. Touching every module makes
        # it regenerate them all (seconds); verdicts survive for each function
        # whose source hash is unchanged.
        for module in (PYWORK / "src").rglob("*.py"):
            os.utime(module)
    _sync_file(TREE / "pyproject.toml", PYWORK / "pyproject.toml")
    config = PYWORK / "setup.cfg"
    if reuse and (
        not config.is_file() or _mutated_modules(config) != _mutated_modules(HERE / "mutmut.cfg")
    ):
        # mutmut records which tests reach each function only for modules it
        # mutated when the tests ran, and re-collects only for new tests: with
        # another list of modules, every mutant of a newly listed one would be
        # "no tests". Collect again (a few minutes); verdicts are kept.
        (PYWORK / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    _sync_file(HERE / "mutmut.cfg", config)
    log = WORK / "mutmut.log"
    if only:
        _step(f"Python mutants: mutmut run on {len(only)} named mutants (progress in {log})")
        _mutmut(["run", "--max-children", str(max_children), *only], log)
        return _apply_equivalents(_mutmut_results(diffs=True))
    _step(f"Python mutants: mutmut run --max-children {max_children} (progress in {log})")
    _mutmut(["run", "--max-children", str(max_children)], log)
    if reuse:
        # mutmut keeps a verdict until the mutated function changes: a survivor
        # may be killed by a test added since, so survivors are tried again --
        # all but those equivalent.toml explains, which no test can kill.
        survivors = [
            m.name
            for m in _apply_equivalents(_mutmut_results(diffs=True)).mutants
            if m.status not in KILLED_STATUSES and not m.reason
        ]
        if survivors:
            _step(f"Python mutants: trying the {len(survivors)} earlier survivors again")
            _mutmut(["run", "--max-children", str(max_children), *survivors], log)
    return _apply_equivalents(_mutmut_results(diffs=True))


def _mutated_modules(config: Path) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(config)
    return parser.get("mutmut", "only_mutate", fallback="").split()


def _mutmut(arguments: list[str], log: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with log.open("a") as out:
        ran = _run(
            [_tool("mutmut"), *arguments], cwd=PYWORK, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if ran.returncode != 0:
        raise SystemExit(f"mutmut failed (exit {ran.returncode}); see {log}")


def _sync(source: Path, target: Path) -> None:
    """Makes ``target`` a copy of ``source``, rewriting only files that differ (mutmut
    keeps a verdict while the mutated file is unchanged)."""
    wanted = {p.relative_to(source) for p in source.rglob("*") if p.is_file()}
    if target.exists():
        for existing in target.rglob("*"):
            if existing.is_file() and existing.relative_to(target) not in wanted:
                existing.unlink()
    for relative in wanted:
        _sync_file(source / relative, target / relative)


def _sync_file(source: Path, target: Path, *, keep_mtime: bool = True) -> None:
    source = source.resolve()
    if target.is_file() and not target.is_symlink() and target.read_bytes() == source.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    (shutil.copy2 if keep_mtime else shutil.copyfile)(source, target)


def _mutmut_results(*, diffs: bool) -> list[Mutant]:
    from mutmut.stats import status_by_exit_code

    mutants: list[Mutant] = []
    for meta in sorted((PYWORK / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        for name, code in sorted(data["exit_code_by_key"].items()):
            mutants.append(Mutant(name, status_by_exit_code[code]))
    for mutant in mutants:
        if diffs and mutant.status not in (*KILLED_STATUSES, UNCHECKED):
            mutant.removed, mutant.added = _mutant_diff(mutant.name)
    return mutants


def _mutant_diff(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    shown = _run([_tool("mutmut"), "show", name], cwd=PYWORK, capture_output=True)
    removed, added = [], []
    for line in shown.stdout.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            removed.append(line[1:].strip())
        elif line.startswith("+"):
            added.append(line[1:].strip())
    return tuple(removed), tuple(added)


def _equivalents() -> list[dict[str, str]]:
    data = tomllib.loads((HERE / "equivalent.toml").read_text())
    entries: list[dict[str, str]] = data.get("equivalent", [])
    for entry in entries:
        missing = {"function", "removed", "added", "reason"} - entry.keys()
        if missing or not entry["reason"].strip():
            raise SystemExit(
                f"equivalent.toml: entry {entry} needs {sorted(missing) or ['reason']}"
            )
    return entries


def _apply_equivalents(mutants: Iterable[Mutant]) -> PythonReport:
    mutants = list(mutants)
    report = PythonReport(mutants)
    for entry in _equivalents():
        matched = False
        for mutant in mutants:
            if mutant.status in KILLED_STATUSES or mutant.reason:
                continue
            if (
                mutant.function.endswith(entry["function"])
                and "\n".join(mutant.removed) == entry["removed"].strip()
                and "\n".join(mutant.added) == entry["added"].strip()
            ):
                mutant.reason = entry["reason"]
                matched = True
                break
        if not matched:
            report.stale.append(f"{entry['function']}: {entry['added'].strip()}")
    return report


# --- engine mutants (patches) -----------------------------------------------------------


@dataclass
class EngineResult:
    patch: str
    area: str
    mutant: str
    killed_by: list[str]
    error: str = ""

    @property
    def killed(self) -> bool:
        return bool(self.killed_by) and not self.error


def _patch_header(patch: Path) -> tuple[str, str]:
    area, mutant = "", ""
    for line in patch.read_text().splitlines():
        if line.startswith("Area:"):
            area = line.split(":", 1)[1].strip()
        elif line.startswith("Mutant:"):
            mutant = line.split(":", 1)[1].strip()
        elif line.startswith("---"):
            break
    return area, mutant


def _git_apply(patch: Path, *options: str) -> subprocess.CompletedProcess[str]:
    # Outside a repository `git apply` patches files like patch(1), without fuzz.
    return _run(["git", "apply", *options, patch.resolve()], cwd=TREE, capture_output=True)


def _engine_mutants(every_suite: bool) -> list[EngineResult]:
    results: list[EngineResult] = []
    patches = sorted((HERE / "engine").glob("*.patch"))
    for number, patch in enumerate(patches, 1):
        area, mutant = _patch_header(patch)
        _step(f"engine mutant {number}/{len(patches)}: {patch.name}")
        result = EngineResult(patch.name, area, mutant, [])
        results.append(result)
        applied = _git_apply(patch)
        if applied.returncode != 0:
            result.error = "does not apply (update the patch): " + applied.stderr.strip()[:200]
            continue
        try:
            failure = _compile()
            if failure is not None:
                result.error = "does not build: " + failure.strip().splitlines()[-1][:200]
                continue
            ctest = _ctest()
            if not ctest.passed:
                result.killed_by.append(f"ctest ({ctest.detail})")
            if ctest.passed or every_suite:
                pytest = _pytest()
                if not pytest.passed:
                    result.killed_by.append(f"pytest ({pytest.detail})")
        finally:
            reverted = _git_apply(patch, "-R")
            if reverted.returncode != 0:
                raise SystemExit(f"could not revert {patch.name} in {TREE}: {reverted.stderr}")
    _step("rebuilding the unmutated tree")
    _compile()
    return results


def _engine_lines(results: list[EngineResult]) -> list[str]:
    out = ["Engine mutants (tests/mutation/engine):"]
    by_area: dict[str, list[EngineResult]] = {}
    for result in results:
        by_area.setdefault(result.area, []).append(result)
    for area, group in by_area.items():
        killed = sum(r.killed for r in group)
        out.append(f"  {area}: {killed}/{len(group)} killed")
        for r in group:
            verdict = (
                "killed by " + "; ".join(r.killed_by)
                if r.killed
                else (f"ERROR: {r.error}" if r.error else "SURVIVED")
            )
            out.append(f"    {r.patch}: {verdict}")
    killed = sum(r.killed for r in results)
    out.append(f"  total: {killed}/{len(results)} killed")
    survivors = [r for r in results if not r.killed]
    if survivors:
        out.append("Surviving engine mutants:")
        out += [f"  {r.patch}: {r.mutant} {r.error}".rstrip() for r in survivors]
    return out


if __name__ == "__main__":
    sys.exit(main())
