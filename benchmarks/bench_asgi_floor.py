"""asgi-floor: a raw ASGI callable that sends a constant response (no framework at all).

It ignores the path, the query and the headers: it is the cost of the ASGI
protocol alone, the floor under any Python answer.
"""

from __future__ import annotations

from typing import Any

import _payload

NAME = "asgi-floor"
IS_CACHE = False
NOTES = {
    "auth": "no check: constant response",
    "304": "constant 304",
    "edge": "its plain answer",
    "gzip": "constant, gzip-compressed once",
    "gzip-today": "ours only: the GZip row above is this system's",
}


def hit_header(headers: dict[bytes, bytes]) -> bool | None:
    return None


def _messages(
    status: int, body: bytes, coding: bytes = b""
) -> tuple[dict[str, Any], dict[str, Any]]:
    headers = [(b"etag", _payload.ETAG.encode())]
    if coding:
        headers.append((b"content-encoding", coding))
    if status != 304:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    start = {"type": "http.response.start", "status": status, "headers": headers}
    return start, {"type": "http.response.body", "body": body}


def build_app(variant: str) -> Any:
    if variant in ("bounded", "fill", "slow", "gzip-today"):  # nothing is stored or computed
        return None
    if variant == "304":
        start, body = _messages(304, b"")
    elif variant == "1mib":
        start, body = _messages(200, _payload.BIG_BODY)
    elif variant == "100kib":
        start, body = _messages(200, _payload.MID_BODY)
    elif variant == "gzip":
        start, body = _messages(200, _payload.MID_GZIP, b"gzip")
    else:
        start, body = _messages(200, _payload.BODY)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # uvicorn runs with lifespan off; nothing else comes
            return
        await send(start)
        await send(body)

    return app
