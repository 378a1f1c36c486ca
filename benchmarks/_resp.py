"""A minimal Redis client over a plain socket, for the harness itself (stdlib only).

Scenario 5's runner uses it to check, flush and stop the ``redis-server`` it
starts, and the worker to flush and read the server's counters between
measurements, so neither depends on the redis client of the venv under test.
"""

from __future__ import annotations

import socket
from typing import Any


class RespError(RuntimeError):
    pass


def command(port: int, *args: str | bytes, host: str = "127.0.0.1", timeout: float = 5.0) -> Any:
    """Send one command on a fresh connection; the decoded reply."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_encode(args))
        reader = sock.makefile("rb")
        try:
            return _read(reader)
        finally:
            reader.close()


def _encode(args: tuple[str | bytes, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _read(reader: Any) -> Any:
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise RespError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else reader.read(size + 2)[:-2]
    if kind == b"*":
        size = int(rest)
        return None if size < 0 else [_read(reader) for _ in range(size)]
    raise RespError(f"unexpected reply {line!r}")


def info(port: int, section: str = "stats") -> dict[str, str]:
    """``INFO section`` as a dict of its ``name:value`` lines."""
    text = command(port, "INFO", section).decode()
    return dict(
        line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#")
    )
