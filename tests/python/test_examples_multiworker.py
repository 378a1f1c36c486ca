"""examples/multiworker.py as docs/deployment.md starts it: two uvicorn workers,
and gunicorn with two uvicorn workers, on the tiered backend over a real Redis.

A response computed by one worker is a hit on the other; a write on one worker
reaches the memory tier of both. Waits are bounded deadlines for an eventual
state (a worker's pub/sub message), never timing assertions.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(
    port: int, method: str, path: str, body: dict[str, object] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own, so that either worker may take it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {} if body is None else {"content-type": "application/json"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


COMMANDS = {
    "uvicorn": [sys.executable, "-m", "uvicorn", "examples.multiworker:app", "--workers", "2",
                "--host", "127.0.0.1", "--log-level", "warning", "--port"],
    "gunicorn": [sys.executable, "-m", "gunicorn", "examples.multiworker:app",
                 "-k", "uvicorn_worker.UvicornWorker", "-w", "2", "--log-level", "warning",
                 "-b"],
}  # fmt: skip


@pytest.fixture(params=sorted(COMMANDS))
def server(request: pytest.FixtureRequest, redis_url: str) -> Iterator[int]:
    port = free_port()
    address = str(port) if request.param == "uvicorn" else f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [*COMMANDS[request.param], address],
        cwd=ROOT,
        env={
            **os.environ,
            "REDIS_URL": redis_url,
            # examples/ from the root; the package from wherever this run imports it.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            assert process.poll() is None, f"{request.param} exited with {process.returncode}"
            try:
                if call(port, "GET", "/worker")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{request.param} did not start"
            time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def both_workers(port: int) -> set[int]:
    """The pids of both workers, each of which answered with its subscription up
    (a worker subscribes at its first lookup: a 404, which is not stored)."""
    seen: set[int] = set()
    deadline = time.monotonic() + DEADLINE
    while len(seen) < 2:
        assert call(port, "GET", "/products/0")[0] == 404
        _, _, body = call(port, "GET", "/worker")
        answer = json.loads(body)
        if answer["listening"]:
            seen.add(answer["pid"])
        assert time.monotonic() < deadline, f"both workers did not answer: {seen}"
    return seen


def test_one_cache_for_every_worker(server: int) -> None:
    both_workers(server)
    status, headers, body = call(server, "GET", "/products/1")
    assert (status, headers["x-cache"]) == (200, "MISS")
    assert json.loads(body) == {"name": "Lamp", "price": 20.0}
    # Every later request is a hit, whichever worker takes it: from Redis the
    # first time on the other worker, then from each worker's memory tier.
    for _ in range(20):
        status, headers, again = call(server, "GET", "/products/1")
        assert (status, headers["x-cache"], again) == (200, "HIT", body)

    status, _, written = call(server, "PUT", "/products/1", {"name": "Lamp", "price": 24.0})
    assert (status, json.loads(written)) == (200, {"invalidated": 1})

    # The invalidation reaches the other worker's memory tier through Redis
    # pub/sub: once it has, every request sees the new price.
    deadline = time.monotonic() + DEADLINE
    fresh = 0
    while fresh < 20:
        _, _, body = call(server, "GET", "/products/1")
        price = json.loads(body)["price"]
        fresh = fresh + 1 if price == 24.0 else 0
        assert time.monotonic() < deadline, "a worker kept the old price"
    assert call(server, "GET", "/products/2")[0] == 404
