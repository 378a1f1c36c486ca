# --8<-- [start:app]
import asyncio

import httpx
from fastapi import APIRouter, FastAPI

from fastapi_caching_route import CachingRoute, FastAPICache

router = APIRouter(route_class=CachingRoute)
cache = FastAPICache(coalesce_timeout=10.0)  # coalesce=True is the default
calls = 0


@cache(ttl=60)
@router.get("/expensive")
async def expensive() -> dict[str, int]:
    global calls
    calls += 1
    await asyncio.sleep(0.2)  # a slow query
    return {"answer": 42}


app = FastAPI()
app.include_router(router)
# --8<-- [end:app]


# --8<-- [start:burst]
async def burst(clients: int = 50) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await asyncio.gather(*(client.get("/expensive") for _ in range(clients)))


responses = asyncio.run(burst())
assert calls == 1  # 50 concurrent misses, one endpoint call
assert all(r.json() == {"answer": 42} for r in responses)
assert cache.stats()["route"]["coalesced"] == 49
# --8<-- [end:burst]
