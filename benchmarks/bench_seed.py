"""seed: fastapi-caching-route 0.6.0 from PyPI with aiocache's SimpleMemoryCache (seed venv)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import _payload
from aiocache import SimpleMemoryCache
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException

from fastapi_caching_route import CachingRoute, FastAPICache

NAME = "seed"
IS_CACHE = True
NOTES = {"auth": "early dependency (@cache(dependencies=...)), runs before the lookup"}


def hit_header(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"x-cache") == b"HIT"


async def require_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != _payload.API_KEY:
        raise HTTPException(status_code=401)


def build_app(variant: str) -> Any:
    if variant == "bounded":  # 0.6.0 has no size bound
        return None
    cache = FastAPICache(SimpleMemoryCache())
    router = APIRouter(route_class=CachingRoute)

    if variant in ("plain", "304"):

        @cache()
        @router.get("/plain")
        async def plain():
            _payload.CALLS["plain"] += 1
            return _payload.DATA

    if variant == "auth":

        @cache(dependencies=[Depends(require_key)])
        @router.get("/auth", dependencies=[Depends(require_key)])
        async def auth():
            _payload.CALLS["auth"] += 1
            return _payload.DATA

    if variant == "query10":

        @cache()
        @router.get("/query10")
        @_payload.declare_query_params
        async def query10(**params: int):
            _payload.CALLS["query10"] += 1
            return _payload.DATA

    if variant == "1mib":

        @cache()
        @router.get("/big")
        async def big():
            _payload.CALLS["big"] += 1
            return _payload.BIG_DATA

    if variant in ("fill", "bounded"):

        @cache()
        @router.get("/fill/{item_id}")
        async def fill(item_id: int):
            _payload.CALLS["fill"] += 1
            return _payload.document(item_id)

    if variant == "slow":

        @cache()
        @router.get("/slow")
        async def slow():
            _payload.CALLS["slow"] += 1
            await asyncio.sleep(_payload.SLOW_SECONDS)
            return _payload.DATA

    app = FastAPI()
    app.include_router(router)
    return app
