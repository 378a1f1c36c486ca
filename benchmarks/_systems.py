"""The compared systems and how to run one task of one in its own venv and subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import setup_venvs

WORKER = Path(__file__).resolve().parent / "_worker.py"


@dataclass(frozen=True)
class System:
    name: str
    module: str
    python: Path
    is_cache: bool


class WorkerError(RuntimeError):
    pass


def run_worker(system: System, task: str, args: dict[str, Any], versions: dict[str, Any]) -> Any:
    """Run one task of one adapter in its venv; the JSON result from its last stdout line."""
    done = subprocess.run(
        [str(system.python), str(WORKER), system.module, task, json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise WorkerError(f"{system.name} {task} failed:\n{done.stderr[-2000:]}")
    output = json.loads(lines[-1])
    versions[system.name] = output["versions"]
    return output["result"]


def run_safe(system: System, task: str, args: dict[str, Any], versions: dict[str, Any]) -> Any:
    """A failing system must not hide the others: report its error, go on."""
    try:
        return run_worker(system, task, args, versions)
    except WorkerError as error:
        print(error, file=sys.stderr)
        return {"error": str(error).splitlines()[0]}


def compared_systems() -> list[System]:
    """BENCHMARKS.md's systems; ours and the floors use the project venv (this interpreter)."""
    venvs = setup_venvs.ensure_all()
    project = Path(sys.executable)
    return [
        System("ours", "bench_ours", project, is_cache=True),
        System("seed", "bench_seed", venvs["seed"], is_cache=True),
        System("fastapi-cache2", "bench_fastapi_cache2", venvs["peers"], is_cache=True),
        System("cashews", "bench_cashews", venvs["peers"], is_cache=True),
        System("route-floor", "bench_route_floor", project, is_cache=False),
        System("asgi-floor", "bench_asgi_floor", project, is_cache=False),
    ]
