"""The demo app (`make demo`): the features of the cache in one place.

- ``/report``      an expensive endpoint with declared query parameters
- ``/private``     guarded by an API key checked *before* the cache lookup
- ``/export``      a streaming response, captured and replayed
- ``/slow``        many concurrent cold requests (see the walkthrough)
- ``/missing``     a 404, which is not stored
- ``/now``         an uncached endpoint on the same router
- ``/cache/stats`` the store's counters
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import StreamingResponse

from fastapi_caching_route import CachingRoute, FastAPICache, MemoryBackend

cache = FastAPICache(MemoryBackend(max_bytes=64 * 1024 * 1024))
router = APIRouter(route_class=CachingRoute)
calls: dict[str, int] = {}


def _count(name: str) -> int:
    calls[name] = calls.get(name, 0) + 1
    return calls[name]


async def require_api_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
    if x_api_key != "demo-key":
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")


@cache(ttl=300)
@router.get("/report")
async def report(
    region: str = "eu",
    year: int = 2026,
    metrics: Annotated[list[str], Query()] = ["revenue"],  # noqa: B006 - FastAPI copies defaults
) -> dict[str, object]:
    await asyncio.sleep(0.2)  # stands in for an expensive query
    return {"region": region, "year": year, "metrics": metrics, "computed": _count("report")}


@cache(dependencies=[Depends(require_api_key)], ttl=60)
@router.get("/private")
async def private() -> dict[str, object]:
    return {"secret": "42", "computed": _count("private")}


@cache()
@router.get("/export")
async def export() -> StreamingResponse:
    _count("export")

    async def rows() -> AsyncIterator[str]:
        yield "id,name\n"
        for i in range(1, 4):
            yield f"{i},item-{i}\n"

    return StreamingResponse(rows(), media_type="text/csv")


@cache()
@router.get("/slow")
async def slow() -> dict[str, int]:
    await asyncio.sleep(0.5)
    return {"computed": _count("slow")}


@cache()
@router.get("/missing")
async def missing() -> None:
    _count("missing")
    raise HTTPException(status_code=404, detail="no such thing")


@router.get("/now")
async def now() -> dict[str, float]:
    return {"time": time.time()}


@router.get("/cache/stats")
async def stats() -> dict[str, object]:
    return {"store": cache.stats(), "endpoint_calls": calls}


app = FastAPI(title="fastapi-caching-route demo")
app.include_router(router)
