"""Scenario 2, end to end: one uvicorn worker per system on CPU 0, wrk on CPU 1, loopback only."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

WORKER = Path(__file__).resolve().parent / "_worker.py"
CONNECTIONS = 32
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _pin(cpu: int) -> list[str]:
    """``taskset -c CPU`` where there are two cores to separate server and load."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, int]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, len(response.read())


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            _get(url)
            return True
        except OSError:
            time.sleep(0.05)
    return False


def parse_wrk(output: str) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    return float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)]


def run_once(python: Path, module: str, seconds: float) -> dict[str, Any]:
    """Serve ``module``'s plain app, check it answers, then load it with wrk."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/plain"
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [*_pin(0), str(python), str(WORKER), module, "serve", f'{{"port": {port}}}'],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            if not _wait_ready(url, server):
                log.seek(0)
                return {"error": "server did not start: " + log.read().decode()[-500:]}
            # The first request stores the entry; the load is all hits on that key.
            # (The in-process scenario checked that each system really answers hits.)
            status, size = _get(url)
            if status != 200:
                return {"error": f"status {status}"}
            wrk = subprocess.run(
                [
                    *_pin(1),
                    "wrk",
                    "-t1",
                    f"-c{CONNECTIONS}",
                    f"-d{seconds}s",
                    "--timeout",
                    "5s",
                    "--latency",
                    url,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if wrk.returncode != 0:
                return {"error": f"wrk failed: {wrk.stderr.strip()}"}
            rps, p99 = parse_wrk(wrk.stdout)
            return {"rps": rps, "p99_ms": p99, "body_bytes": size}
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def run(systems: list[tuple[str, Path, str]], seconds: float, repeats: int) -> dict[str, Any]:
    """Each system ``repeats`` times, alternating, so drift on a shared machine hits all alike."""
    if shutil.which("wrk") is None:
        return {"unavailable": "wrk is not installed (Debian package 'wrk')"}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in systems}
    for _ in range(repeats):
        for name, python, module in systems:
            runs[name].append(run_once(python, module, seconds))
    results: dict[str, Any] = {}
    for name, attempts in runs.items():
        good = [a for a in attempts if "error" not in a]
        if not good:
            results[name] = {"rps": None, "error": attempts[0]["error"]}
            continue
        results[name] = {
            "rps": sum(a["rps"] for a in good) / len(good),
            "p99_ms": sum(a["p99_ms"] for a in good) / len(good),
            "runs": [round(a["rps"]) for a in good],
            "body_bytes": good[0]["body_bytes"],
        }
    return {
        "connections": CONNECTIONS,
        "seconds": seconds,
        "pinned": bool(_pin(0)),
        "systems": results,
    }
