"""fastapi-cache2: ``fastapi_cache`` with its InMemoryBackend (peers venv).

Its ``@cache`` wraps the endpoint, so it sits *below* the route decorator and
every hit still pays FastAPI's parameter and dependency solving, the JSON
decode of the stored value and FastAPI's re-encoding of it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import _payload
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi_cache import FastAPICache
from fastapi_cache.backends.inmemory import InMemoryBackend
from fastapi_cache.decorator import cache

NAME = "fastapi-cache2"
IS_CACHE = True
NOTES = {
    "auth": "route dependency: runs before the endpoint wrapper that does the lookup",
    "304": "weak ETag W/hash(value), exact If-None-Match match only",
}
# Without an expiry its InMemoryBackend stores entries that expire at once.
EXPIRE = 3600


def hit_header(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"x-fastapi-cache") == b"HIT"


async def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != _payload.API_KEY:
        raise HTTPException(status_code=401)


def build_app(variant: str) -> Any:
    if variant == "bounded":  # InMemoryBackend has no size bound
        return None
    # Normally called in the lifespan; the in-process harness sends no lifespan
    # events, so initialise here (init is a class-level switch either way).
    FastAPICache.reset()
    InMemoryBackend._store = {}  # a class attribute: start every app empty
    FastAPICache.init(InMemoryBackend(), prefix="bench", expire=EXPIRE)
    app = FastAPI()

    if variant in ("plain", "304"):

        @app.get("/plain")
        @cache(expire=EXPIRE)
        async def plain():
            _payload.CALLS["plain"] += 1
            return _payload.DATA

    if variant == "auth":

        @app.get("/auth", dependencies=[Depends(require_key)])
        @cache(expire=EXPIRE)
        async def auth():
            _payload.CALLS["auth"] += 1
            return _payload.DATA

    if variant == "query10":

        @app.get("/query10")
        @cache(expire=EXPIRE)
        @_payload.declare_query_params
        async def query10(**params: int):
            _payload.CALLS["query10"] += 1
            return _payload.DATA

    if variant == "1mib":

        @app.get("/big")
        @cache(expire=EXPIRE)
        async def big():
            _payload.CALLS["big"] += 1
            return _payload.BIG_DATA

    if variant in ("fill", "bounded"):

        @app.get("/fill/{item_id}")
        @cache(expire=EXPIRE)
        async def fill(item_id: int):
            _payload.CALLS["fill"] += 1
            return _payload.document(item_id)

    if variant == "slow":

        @app.get("/slow")
        @cache(expire=EXPIRE)
        async def slow():
            _payload.CALLS["slow"] += 1
            await asyncio.sleep(_payload.SLOW_SECONDS)
            return _payload.DATA

    return app
