import asyncio
import os

import httpx
from fastapi import APIRouter, FastAPI

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")

# --8<-- [start:lock]
from fastapi_caching_route import CachingRoute, FastAPICache, RedisBackend

calls = 0


def worker_app() -> tuple[FastAPI, FastAPICache]:
    """What each worker process builds at import time."""
    # lock=True: the worker that takes the key's lease in Redis calls the endpoint.
    cache = FastAPICache(RedisBackend.from_url(REDIS_URL, lock=True, lock_lease=5.0))
    router = APIRouter(route_class=CachingRoute)

    @cache(ttl=60)
    @router.get("/report")
    async def report() -> dict[str, int]:
        global calls
        calls += 1
        await asyncio.sleep(0.3)  # an expensive query
        return {"total": 42}

    app = FastAPI()
    app.include_router(router)
    return app, cache
# --8<-- [end:lock]


# --8<-- [start:check]
async def main() -> None:
    workers = [worker_app() for _ in range(2)]  # two "workers" sharing one Redis
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")
        for app, _ in workers
    ]
    answers = await asyncio.gather(*(c.get("/report") for c in clients for _ in range(10)))
    assert all(a.json() == {"total": 42} for a in answers)
    assert calls == 1  # one endpoint call for 20 requests on two workers
    for client, (_, cache) in zip(clients, workers, strict=True):
        await client.aclose()
        await cache.backend.close()


asyncio.run(main())
# --8<-- [end:check]
