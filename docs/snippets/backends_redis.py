import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
SENTINEL_PORT = int(os.environ.get("REDIS_SENTINEL_PORT", "26379"))
CLUSTER_URL = os.environ.get("REDIS_CLUSTER_URL", "redis://localhost:7000/0")

# --8<-- [start:standalone]
from fastapi_caching_route import FastAPICache, RedisBackend

# Short timeouts (0.25 s to connect and per command): a slow store must not
# slow the app down. Entries are keyed fcr:<namespace>:{<digest>}.
cache = FastAPICache(RedisBackend.from_url(REDIS_URL, timeout=0.25, namespace="api"))
# --8<-- [end:standalone]

# --8<-- [start:sentinel]
from redis.asyncio.sentinel import Sentinel

sentinel = Sentinel([("localhost", SENTINEL_PORT)], socket_timeout=0.25)
master = sentinel.master_for("mymaster", socket_timeout=0.25, socket_connect_timeout=0.25)
sentinel_cache = FastAPICache(RedisBackend(master, namespace="api"))
# --8<-- [end:sentinel]

# --8<-- [start:cluster]
from redis.asyncio.cluster import RedisCluster

cluster = RedisCluster.from_url(CLUSTER_URL, socket_timeout=0.25, socket_connect_timeout=0.25)
cluster_cache = FastAPICache(RedisBackend(cluster, namespace="api"))
# --8<-- [end:cluster]

# --8<-- [start:tiered]
from fastapi_caching_route import MemoryBackend, TieredBackend

tiered = TieredBackend(
    RedisBackend.from_url(REDIS_URL, namespace="api"),
    l1=MemoryBackend(max_bytes=64 * 1024 * 1024),  # per worker
    l1_ttl=60,  # the longest an L1 copy lives
)
tiered_cache = FastAPICache(tiered)
# --8<-- [end:tiered]

# --8<-- [start:aiocache]
from aiocache import SimpleMemoryCache

from fastapi_caching_route import AiocacheBackend

aiocache_cache = FastAPICache(SimpleMemoryCache())  # 0.6.0 style
same_thing = FastAPICache(AiocacheBackend(SimpleMemoryCache()))
# --8<-- [end:aiocache]


# --8<-- [start:app]
from fastapi_caching_route import CachingRoute


def make_app(cache: FastAPICache) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await cache.backend.close()  # Redis connections, the tiered listener

    router = APIRouter(route_class=CachingRoute)

    @cache(ttl=60)
    @router.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
# --8<-- [end:app]


def served_twice(cache: FastAPICache, item: int, *clients: object) -> None:
    app = make_app(cache)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            yield
        for client in clients:  # the Sentinel's own connections
            await client.aclose()

    app.router.lifespan_context = lifespan

    with TestClient(app) as client:  # one event loop for the client's requests
        assert client.get(f"/items/{item}").headers["x-cache"] == "MISS"
        assert client.get(f"/items/{item}").headers["x-cache"] == "HIT"


served_twice(cache, 1)
served_twice(sentinel_cache, 2, *sentinel.sentinels)
served_twice(tiered_cache, 3)
assert isinstance(aiocache_cache.backend, AiocacheBackend)  # served in migrating_stays.py
if "REDIS_CLUSTER_URL" in os.environ:  # tests/python/test_backend_redis_cluster.py runs one
    served_twice(cluster_cache, 5)
