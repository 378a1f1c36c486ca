"""Calling an ASGI app in process: prebuilt scopes, a trivial receive and send.

Stdlib only (imported in every venv). Every system is driven by these same
functions, so the harness's own cost is identical for all of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Any

_REQUEST = {"type": "http.request", "body": b"", "more_body": False}
_BASE_HEADERS = ((b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench"), (b"accept", b"*/*"))


def make_scope(
    path: str, query: bytes = b"", headers: tuple[tuple[bytes, bytes], ...] = ()
) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [*_BASE_HEADERS, *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def make_receive() -> Any:
    """The request once, then wait forever, as a client that stays connected.

    A receive that kept answering at once would let a disconnect listener spin
    without ever yielding to the event loop.
    """
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return _REQUEST
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


async def null_send(message: dict) -> None:
    return None


@dataclass
class Captured:
    """What one response looked like: status, lower-cased headers, body size."""

    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body_bytes: int = 0

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.lower(): v for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            self.body_bytes += len(message.get("body", b""))


async def request(app: Any, scope: dict) -> Captured:
    captured = Captured()
    await app(dict(scope), make_receive(), captured)
    return captured


async def time_per_request(app: Any, scope: dict, n: int) -> float:
    """Microseconds per request over ``n`` sequential requests."""
    start = perf_counter_ns()
    for _ in range(n):
        await app(dict(scope), make_receive(), null_send)
    return (perf_counter_ns() - start) / n / 1000


async def calibrate(app: Any, scope: dict, round_seconds: float) -> int:
    """Requests per round of ``round_seconds``; doubling ``n`` until it takes half a round
    doubles as the warm-up."""
    n = 1
    while True:
        us = await time_per_request(app, scope, n)
        if us * n / 1e6 >= round_seconds / 2 or n >= 1 << 20:
            break
        n *= 2
    return max(1, int(round_seconds * 1e6 / us))


async def rounds_of(app: Any, scope: dict, rounds: int, round_seconds: float) -> list[float]:
    """µs/request for each round, after calibration."""
    n = await calibrate(app, scope, round_seconds)
    return [await time_per_request(app, scope, n) for _ in range(rounds)]


async def alternate_rounds(
    cases: list[tuple[Any, dict]], rounds: int, round_seconds: float
) -> list[list[float]]:
    """µs/request of each (app, scope) in alternate rounds (each calibrated on its own),
    so a drift of the machine hits them alike; one list of rounds per case."""
    sizes = [await calibrate(app, scope, round_seconds) for app, scope in cases]
    per_case: list[list[float]] = [[] for _ in cases]
    for _ in range(rounds):
        for (app, scope), n, out in zip(cases, sizes, per_case, strict=True):
            out.append(await time_per_request(app, scope, n))
    return per_case


def rss_bytes(field_name: str = "VmRSS") -> int:
    """Resident set size (``VmRSS``) or its peak (``VmHWM``) of this process."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field_name} not in /proc/self/status")
