"""Scenario 4b: the stampede across two worker processes sharing one local ``redis-server``.

Each run starts two ``_worker.py stampede_shared`` processes of one system (its
venv), each with its own app and Redis client on the same server (emptied
first). Each warms up on another key and prints ``ready``; once both have, the
runner writes ``go`` to both, and each sends its half of the requests for the
one cold key at once. Each worker counts its own endpoint calls, so their sum
is exact; the wall time runs from the first worker's first request to the last
answer of either (wall-clock times: one machine).
"""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import tempfile
import time
from typing import Any

from ._systems import WORKER, System

READY_SECONDS = 60.0  # process start, imports and the warm-up
RUN_SECONDS = 60.0


def two_workers(
    system: System, url: str, lock: bool, requests: int, versions: dict[str, Any]
) -> dict[str, Any]:
    """One stampede of ``requests`` split over two workers; the merged result or ``error``."""
    halves = [requests - requests // 2, requests // 2]
    with tempfile.TemporaryFile("w+") as err0, tempfile.TemporaryFile("w+") as err1:
        errors = [err0, err1]
        procs = [
            subprocess.Popen(
                [
                    str(system.python),
                    str(WORKER),
                    system.module,
                    "stampede_shared",
                    json.dumps({"url": url, "lock": lock, "requests": n}),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
            for n, err in zip(halves, errors, strict=True)
        ]
        try:
            firsts = [_first_line(p, READY_SECONDS) for p in procs]
            go = "go\n" if firsts == ["ready", "ready"] else "stop\n"
            for p in procs:
                assert p.stdin is not None
                with contextlib.suppress(BrokenPipeError):  # a worker that failed has left
                    p.stdin.write(go)
                    p.stdin.flush()
                with contextlib.suppress(BrokenPipeError):
                    p.stdin.close()
            outputs = []
            for p, first in zip(procs, firsts, strict=True):
                p.wait(timeout=RUN_SECONDS)  # its output is one short line: the pipe holds it
                assert p.stdout is not None
                outputs.append(first + "\n" + p.stdout.read())
        except subprocess.TimeoutExpired as error:
            return {"error": f"{system.name}: {error}"}
        finally:
            for p in procs:  # only on a timeout or an error: ours, by their handles
                if p.poll() is None:
                    p.kill()
                    p.wait()
        results = []
        for p, out, err in zip(procs, outputs, errors, strict=True):
            lines = out.strip().splitlines()
            if p.returncode != 0 or not lines:
                err.seek(0)
                return {"error": f"{system.name} worker failed: {err.read()[-2000:]}"}
            output = json.loads(lines[-1])
            versions[system.name] = output["versions"]
            results.append(output["result"])
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        return {"error": "; ".join(failed)}
    starts = [r["start"] for r in results]
    return {
        "calls": sum(r["calls"] for r in results),
        "calls_per_worker": [r["calls"] for r in results],
        "ok": sum(r["ok"] for r in results),
        "requests": requests,
        "wall_ms": (max(r["end"] for r in results) - min(starts)) * 1e3,
        "wall_ms_per_worker": [(r["end"] - r["start"]) * 1e3 for r in results],
        "start_skew_ms": abs(starts[0] - starts[1]) * 1e3,
        "counters_per_worker": [r.get("counters", {}) for r in results],
        "warm_wait_s": [r.get("warm_wait_s", 0.0) for r in results],
    }


def _first_line(process: subprocess.Popen[str], seconds: float) -> str:
    """The worker's first stdout line (``ready``), or '' if none comes in time."""
    assert process.stdout is not None
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([process.stdout], [], [], left)
        if readable:
            return process.stdout.readline().strip()
    return ""
