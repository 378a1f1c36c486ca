"""The endpoints every cached system serves, one set per benchmark variant.

Each adapter wires them with its own decorators (ours and the seed put
``@cache()`` above the route decorator, fastapi-cache2 and cashews below it),
so the endpoints themselves are identical across systems.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import _payload
from fastapi import FastAPI, Header, HTTPException
from starlette.middleware.gzip import GZipMiddleware

# Scenario 1's compression variants: the ~100 KiB route behind GZipMiddleware,
# the client sending Accept-Encoding: gzip.
GZIP_VARIANTS = ("gzip", "gzip-today")


class Endpoint(NamedTuple):
    path: str
    function: Callable[..., Any]
    needs_auth: bool = False


async def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != _payload.API_KEY:
        raise HTTPException(status_code=401)


def for_variant(variant: str) -> list[Endpoint]:
    """Fresh endpoint functions (FastAPI and the caches attach state to them)."""
    if variant in ("plain", "304", "edge"):

        async def plain():
            _payload.CALLS["plain"] += 1
            return _payload.DATA

        return [Endpoint("/plain", plain)]
    if variant == "auth":

        async def auth():
            _payload.CALLS["auth"] += 1
            return _payload.DATA

        return [Endpoint("/auth", auth, needs_auth=True)]
    if variant == "query10":

        @_payload.declare_query_params
        async def query10(**params: int):
            _payload.CALLS["query10"] += 1
            return _payload.DATA

        return [Endpoint("/query10", query10)]
    if variant == "1mib":

        async def big():
            _payload.CALLS["big"] += 1
            return _payload.BIG_DATA

        return [Endpoint("/big", big)]
    if variant in ("100kib", *GZIP_VARIANTS):

        async def mid():
            _payload.CALLS["mid"] += 1
            return _payload.MID_DATA

        return [Endpoint("/mid", mid)]
    if variant in ("fill", "bounded"):

        async def fill(item_id: int):
            _payload.CALLS["fill"] += 1
            return _payload.document(item_id)

        return [Endpoint("/fill/{item_id}", fill)]
    if variant in ("slow", "stampede"):

        async def slow():
            _payload.CALLS["slow"] += 1
            await asyncio.sleep(_payload.SLOW_SECONDS)
            return _payload.DATA

        if variant == "slow":
            return [Endpoint("/slow", slow)]

        async def warm():  # the two-worker stampede warms each worker up on another key
            _payload.CALLS["warm"] += 1
            return _payload.DATA

        return [Endpoint("/slow", slow), Endpoint("/warm", warm)]
    if variant == "stale":
        # Its first call is stored; every later one is the stale entry's
        # background refresh, which parks here for good: that one refresh stays
        # in flight, so each timed request is answered stale and starts nothing.
        never = asyncio.Event()
        stored = False

        async def stale():
            nonlocal stored
            _payload.CALLS["stale"] += 1
            if stored:
                _payload.CALLS["stale_parked"] += 1
                await never.wait()
            stored = True
            return _payload.DATA

        return [Endpoint("/stale", stale)]
    raise ValueError(f"unknown variant {variant!r}")


def add_middleware(app: FastAPI, variant: str) -> FastAPI:
    """The app-level middleware of a variant: GZipMiddleware for the compression
    variants (Starlette's defaults: level 9, compressed in the event loop below
    128 KiB)."""
    if variant in GZIP_VARIANTS:
        app.add_middleware(GZipMiddleware)
    return app


class SeenByMiddleware:
    """A pure ASGI middleware that counts the requests reaching it and marks their
    responses (``x-bench-middleware: seen``): an edge hit must do neither."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        _payload.CALLS["middleware"] += 1

        async def marked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"x-bench-middleware", b"seen")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)
