"""route-floor: the same FastAPI app with no cache; each route returns a prebuilt Response.

The cheapest thing FastAPI can do for these requests: a cache hit that costs
no more than this adds nothing over FastAPI itself.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import _payload
from fastapi import Depends, FastAPI, Header, HTTPException, Response
from starlette.middleware.gzip import GZipMiddleware

NAME = "route-floor"
IS_CACHE = False
NOTES = {
    "304": "route returns a prebuilt 304",
    "auth": "route dependency",
    "edge": "its plain route (no edge lane)",
    "gzip": "GZipMiddleware compresses every request; a new Response each time",
    "gzip-today": "ours only: the GZip row above is this system's",
}


def hit_header(headers: dict[bytes, bytes]) -> bool | None:
    return None


async def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != _payload.API_KEY:
        raise HTTPException(status_code=401)


def build_app(variant: str) -> Any:
    if variant in ("bounded", "fill", "gzip-today"):  # nothing is stored
        return None
    json = "application/json"
    small = Response(_payload.BODY, media_type=json, headers={"etag": _payload.ETAG})
    if variant == "304":
        small = Response(status_code=304, headers={"etag": _payload.ETAG})
    big = Response(_payload.BIG_BODY, media_type=json, headers={"etag": _payload.ETAG})
    app = FastAPI()

    if variant in ("plain", "304", "edge"):

        @app.get("/plain")
        async def plain() -> Response:
            return small

    if variant == "auth":

        @app.get("/auth", dependencies=[Depends(require_key)])
        async def auth() -> Response:
            return small

    if variant == "query10":

        @app.get("/query10")
        @_payload.declare_query_params
        async def query10(**params: int) -> Response:
            return small

    if variant == "1mib":

        @app.get("/big")
        async def big_route() -> Response:
            return big

    if variant in ("100kib", "gzip"):
        # A new Response per request: GZipMiddleware adds Content-Encoding to the
        # header list of the response it is given, so a prebuilt one would be
        # sent as gzip, uncompressed, from the second request on.
        @app.get("/mid")
        async def mid_route() -> Response:
            return Response(_payload.MID_BODY, media_type=json, headers={"etag": _payload.ETAG})

        if variant == "gzip":
            app.add_middleware(GZipMiddleware)

    if variant == "slow":

        @app.get("/slow")
        async def slow() -> Response:
            _payload.CALLS["slow"] += 1
            await asyncio.sleep(_payload.SLOW_SECONDS)
            return small

    return app
