"""Scenario 2, end to end: one uvicorn worker per system on CPU 0, wrk on CPU 1, loopback only.

Every system's server is started once and stays up (idle servers cost nothing
on CPU 0); then short wrk runs go round the systems, the order reversed every
round, so a drift of the shared machine hits every system alike. Each system
gets the median of its runs and their spread.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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


def _get(url: str) -> tuple[int, int, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=2) as response:
        body = response.read()
        return response.status, len(body), {k.lower(): v for k, v in response.getheaders()}


def parse_wrk(output: str) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    return float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)]


def wrk(url: str, seconds: int) -> dict[str, Any]:
    """One wrk run on CPU 1: {"rps", "p99_ms"} or {"error"}."""
    done = subprocess.run(
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
    if done.returncode != 0:
        return {"error": f"wrk failed: {done.stderr.strip()}"}
    try:
        rps, p99 = parse_wrk(done.stdout)
    except ValueError as error:
        return {"error": str(error)}
    # Non-2xx answers or socket errors would make the req/s meaningless.
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    if bad:
        return {"error": f"{bad.group(1)} non-2xx answers"}
    return {"rps": rps, "p99_ms": p99}


@dataclass
class Server:
    """One system's uvicorn worker on CPU 0, serving its app for ``variant``."""

    label: str
    python: Path
    module: str
    variant: str
    port: int = 0
    error: str = ""
    checked: dict[str, Any] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/plain"

    def start(self) -> None:
        self.port = _free_port()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        args = f'{{"port": {self.port}, "variant": "{self.variant}"}}'
        self._process = subprocess.Popen(
            [*_pin(0), str(self.python), str(WORKER), self.module, "serve", args],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def check(self, timeout: float = 30) -> None:
        """Wait until it answers; the first request stores the entry, the second
        must be a hit (for the edge variant: one its middleware never saw)."""
        assert self._process is not None
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    _get(self.url)
                    break
                except urllib.error.HTTPError:
                    raise
                except OSError:  # not listening yet
                    if time.monotonic() > deadline or self._process.poll() is not None:
                        self.error = "server did not start: " + self._tail()
                        return
                    time.sleep(0.05)
            status, size, headers = _get(self.url)
        except urllib.error.HTTPError as error:
            self.error = f"status {error.code}"
            return
        self.checked = {
            "status": status,
            "body_bytes": size,
            "x-cache": headers.get("x-cache", ""),
            "middleware": "x-bench-middleware" in headers,
        }
        edge_hit = self.checked["x-cache"] == "HIT" and not self.checked["middleware"]
        if self.variant == "edge" and not edge_hit:
            self.error = f"not an edge hit: {self.checked}"

    def alive(self) -> bool:
        return not self.error and self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()

    def _tail(self) -> str:
        assert self._log is not None
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-500:]


def run(
    systems: list[tuple[str, Path, str, str]], seconds: int, runs: int, warmup: int
) -> dict[str, Any]:
    """``runs`` wrk runs of ``seconds`` per system, interleaved: round r goes
    through the systems in order, round r + 1 in reverse. ``warmup``: one wrk
    run of that many seconds per server first, not counted (0: none)."""
    if shutil.which("wrk") is None:
        return {"unavailable": "wrk is not installed (Debian package 'wrk')"}
    servers = [Server(*system) for system in systems]
    attempts: dict[str, list[dict[str, Any]]] = {s.label: [] for s in servers}
    started = time.monotonic()
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.check()
            if warmup and server.alive():
                wrk(server.url, warmup)
        for r in range(runs):
            for server in servers if r % 2 == 0 else servers[::-1]:
                if server.alive():
                    attempts[server.label].append({"round": r, **wrk(server.url, seconds)})
                elif not server.error:
                    server.error = "server exited: " + server._tail()
    finally:
        for server in servers:
            server.stop()
    return {
        "connections": CONNECTIONS,
        "seconds": seconds,
        "runs": runs,
        "warmup": warmup,
        "pinned": bool(_pin(0)),
        "wall_s": time.monotonic() - started,
        "systems": {s.label: summarize(attempts[s.label], s) for s in servers},
    }


def summarize(attempts: list[dict[str, Any]], server: Server) -> dict[str, Any]:
    """Median req/s and p99 of the good runs, their spread as % of the median."""
    good = [a for a in attempts if "error" not in a]
    errors = [a["error"] for a in attempts if "error" in a]
    if server.error or not good:
        return {"rps": None, "error": server.error or (errors[0] if errors else "no run")}
    rps = [a["rps"] for a in good]
    median = statistics.median(rps)
    quartiles = statistics.quantiles(rps, n=4, method="inclusive") if len(rps) > 1 else [median] * 3
    return {
        "rps": median,
        "p99_ms": statistics.median(a["p99_ms"] for a in good),
        "spread_pct": (max(rps) - min(rps)) / median * 100,
        "iqr_pct": (quartiles[2] - quartiles[0]) / median * 100,
        "runs": [round(x) for x in rps],
        "rounds": [a["round"] for a in good],
        "failed_runs": errors,
        "checked": server.checked,
    }


def per_round_ratios(a: dict[str, Any], b: dict[str, Any]) -> list[float]:
    """a ÷ b for each round in which both ran (neighbours in time)."""
    if not a.get("rps") or not b.get("rps"):
        return []
    theirs = dict(zip(b["rounds"], b["runs"], strict=True))
    return [x / theirs[r] for r, x in zip(a["rounds"], a["runs"], strict=True) if r in theirs]
