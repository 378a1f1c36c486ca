"""Several workers, one cache: a per-worker memory tier in front of Redis.

    redis-server --port 6379 --save "" --appendonly no &
    REDIS_URL=redis://127.0.0.1:6379/0 uvicorn examples.multiworker:app --workers 4
    # or: gunicorn examples.multiworker:app -k uvicorn_worker.UvicornWorker -w 4

    curl -i localhost:8000/products/1            # MISS, then HIT on every worker
    curl -i -X PUT localhost:8000/products/1 -H 'content-type: application/json' \\
         -d '{"name": "Lamp", "price": 24.0}'    # every worker drops its copy
    curl -i localhost:8000/products/1            # MISS: the new price

Each worker answers hits from its own memory tier (L1, the native store, fast
lane included); an L1 miss asks Redis (L2), so a response computed by one
worker serves all of them. Invalidations go to Redis and, through a Redis
channel, to the L1 of every worker.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel
from redis.asyncio import Redis

from fastapi_caching_route import (
    CachingRoute,
    FastAPICache,
    MemoryBackend,
    RedisBackend,
    TieredBackend,
)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

backend = TieredBackend(
    RedisBackend.from_url(REDIS_URL, timeout=0.25, namespace="shop"),
    l1=MemoryBackend(max_bytes=64 * 1024 * 1024),
    l1_ttl=60,
)
cache = FastAPICache(backend)
router = APIRouter(route_class=CachingRoute)


class Product(BaseModel):
    name: str
    price: float


# The app's data, shared by every worker (a Redis hash stands in for a database).
database = Redis.from_url(REDIS_URL)
PRODUCTS = "shop:products"


def product_key(request: Request) -> str:
    return f"product:{request.path_params['product_id']}"


@cache(key_builder=product_key, namespace="products", ttl=300)
@router.get("/products/{product_id}")
async def read_product(product_id: int) -> Product:
    row = await database.hget(PRODUCTS, str(product_id))
    if row is None:
        raise HTTPException(status_code=404)
    return Product.model_validate_json(row)


@router.put("/products/{product_id}")
async def write_product(product_id: int, product: Product) -> dict[str, int]:
    await database.hset(PRODUCTS, str(product_id), product.model_dump_json())
    namespace = cache.prepare_cache_params({"namespace": "products"}).get("namespace")
    return {"invalidated": await cache.invalidate_cached(f"product:{product_id}", namespace)}


@router.get("/worker")
async def worker() -> dict[str, object]:
    """Which worker answered, and whether it receives invalidations (uncached)."""
    return {"pid": os.getpid(), "listening": backend.listening, "stats": cache.stats()}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    lamp = Product(name="Lamp", price=20.0)
    await database.hsetnx(PRODUCTS, "1", lamp.model_dump_json())
    yield
    await backend.close()  # the invalidation listener and the Redis connections
    await database.aclose()


app = FastAPI(title="fastapi-caching-route: several workers", lifespan=lifespan)
app.include_router(router)
