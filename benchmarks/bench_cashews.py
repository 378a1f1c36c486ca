"""cashews: ``mem://`` backend with its FastAPI helpers (peers venv).

Its ``@cache`` wraps the endpoint (below the route decorator), so hits pay
FastAPI's parameter and dependency solving and the encoding of the stored
object. It has no hit header: hits are checked by the endpoint call counter.
It coalesces concurrent misses by default (``protected=True``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import _payload
from cashews import Cache
from cashews.contrib.fastapi import CacheEtagMiddleware
from fastapi import Depends, FastAPI, Header, HTTPException

NAME = "cashews"
IS_CACHE = True
NOTES = {
    "auth": "route dependency: runs before the endpoint wrapper that does the lookup",
    "304": "needs CacheEtagMiddleware (a BaseHTTPMiddleware), added for this variant only",
}
TTL = "1h"
# The default LRU size is 1000 entries; the memory scenario stores far more.
SETTINGS = "mem://?size=2000000"


def hit_header(headers: dict[bytes, bytes]) -> bool | None:
    return None  # no hit header: rely on the endpoint call counter


async def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != _payload.API_KEY:
        raise HTTPException(status_code=401)


def build_app(variant: str) -> Any:
    if variant == "bounded":  # mem:// bounds entries, not bytes
        return None
    cache = Cache()  # one instance per app, so apps never share entries
    cache.setup(SETTINGS)
    app = FastAPI()
    if variant == "304":
        app.add_middleware(CacheEtagMiddleware, cache_instance=cache)

    if variant in ("plain", "304"):

        @app.get("/plain")
        @cache(ttl=TTL)
        async def plain():
            _payload.CALLS["plain"] += 1
            return _payload.DATA

    if variant == "auth":

        @app.get("/auth", dependencies=[Depends(require_key)])
        @cache(ttl=TTL)
        async def auth():
            _payload.CALLS["auth"] += 1
            return _payload.DATA

    if variant == "query10":

        @app.get("/query10")
        @cache(ttl=TTL)
        @_payload.declare_query_params
        async def query10(**params: int):
            _payload.CALLS["query10"] += 1
            return _payload.DATA

    if variant == "1mib":

        @app.get("/big")
        @cache(ttl=TTL)
        async def big():
            _payload.CALLS["big"] += 1
            return _payload.BIG_DATA

    if variant in ("fill", "bounded"):

        @app.get("/fill/{item_id}")
        @cache(ttl=TTL)
        async def fill(item_id: int):
            _payload.CALLS["fill"] += 1
            return _payload.document(item_id)

    if variant == "slow":

        @app.get("/slow")
        @cache(ttl=TTL)
        async def slow():
            _payload.CALLS["slow"] += 1
            await asyncio.sleep(_payload.SLOW_SECONDS)
            return _payload.DATA

    return app
