"""`make demo`: serve examples/app.py and walk through MISS, HIT, 304 and coalescing.

The server keeps running after the walkthrough; stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def request(host: str, port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def show(host: str, port: int, title: str, path: str, headers: dict[str, str] | None = None) -> str:
    headers = headers or {}
    flags = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in headers.items())
    url = shlex.quote(f"http://{host}:{port}{path}")
    print(f"\n# {title}" if title else "")
    print(f"$ curl -i {flags + ' ' if flags else ''}{url}")
    started = time.perf_counter()
    response = request(host, port, path, headers)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"  HTTP {response.status}  ({elapsed:.1f} ms)")
    for name in ("x-cache", "etag", "content-length", "vary"):
        if (value := response.getheader(name)) is not None:
            print(f"  {name}: {value}")
    body = response.body  # type: ignore[attr-defined]
    print(f"  body: {body[:120].decode(errors='replace')!s}" if body else "  body: (empty)")
    return response.getheader("etag") or ""


def coalescing(host: str, port: int, clients: int = 20) -> None:
    print(f"\n# 8. {clients} concurrent requests for one cold key: the endpoint (0.5 s) runs once")
    print(f"$ for i in $(seq {clients}); do curl -s -o /dev/null http://{host}:{port}/slow & done")
    with ThreadPoolExecutor(max_workers=clients) as pool:
        responses = list(pool.map(lambda _: request(host, port, "/slow", {}), range(clients)))
    statuses = Counter(r.getheader("x-cache") for r in responses)
    print(f"  X-Cache: {dict(statuses)}")
    print(f"  body of every response: {responses[0].body.decode()}")  # type: ignore[attr-defined]


def wait_until_up(host: str, port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited with status {server.returncode}")
        try:
            request(host, port, "/now", {})
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the server did not start within 30 s")


def walkthrough(host: str, port: int) -> None:
    print("\n=== walkthrough ===")
    show(
        host,
        port,
        "1. first request: the endpoint runs (200 ms) and the response is stored",
        "/report?region=us",
    )
    etag = show(host, port, "2. same request again: answered from the cache", "/report?region=us")
    show(
        host,
        port,
        "3. same key: query order, escapes and undeclared parameters do not matter",
        "/report?utm_source=x&region=%75s",
    )
    show(
        host,
        port,
        "4. a client that has the body sends its ETag and gets 304 Not Modified",
        "/report?region=us",
        {"If-None-Match": etag},
    )
    show(host, port, "5. the API key is checked before the lookup", "/private")
    show(host, port, "   with the key: MISS, then HIT", "/private", {"X-API-Key": "demo-key"})
    show(host, port, "", "/private", {"X-API-Key": "demo-key"})
    show(host, port, "6. streaming responses are captured (MISS) and replayed (HIT)", "/export")
    show(host, port, "", "/export")
    show(host, port, "7. a 404 is not stored: no X-Cache header", "/missing")
    coalescing(host, port)
    show(host, port, "9. counters", "/cache/stats")
    print(f"\nThe app keeps serving on http://{host}:{port} (docs at /docs). Ctrl-C stops it.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "examples.app:app",
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_until_up(args.host, args.port, server)
        walkthrough(args.host, args.port)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
