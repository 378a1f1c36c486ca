"""Metrics next to cached routes: Prometheus at /metrics, counters at /cache/stats.

    pip install "fastapi-caching-route[prometheus]"
    uvicorn examples.observability:app

    curl localhost:8000/weather?city=Oslo      # MISS, then HIT
    curl localhost:8000/metrics                # fastapi_cache_hits_total{cache="weather"} ...
    curl localhost:8000/cache/stats            # the same counters as JSON

The collector reads `cache.stats()` when Prometheus scrapes: nothing is added
to the cost of a request. Backend errors are logged on the
`fastapi_caching_route` logger, at most once per 10 seconds per kind.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from fastapi_caching_route import CachingRoute, FastAPICache, MemoryBackend
from fastapi_caching_route.metrics import register_metrics

logging.getLogger("fastapi_caching_route").setLevel(logging.WARNING)

cache = FastAPICache(MemoryBackend(max_bytes=32 * 1024 * 1024))
router = APIRouter(route_class=CachingRoute)

# A registry of the app's own (the default prometheus_client.REGISTRY works too);
# `name` labels the series, to tell several caches apart.
registry = CollectorRegistry()
register_metrics(cache, registry, name="weather")


@cache(ttl=60)
@router.get("/weather")
async def weather(city: str = "Oslo") -> dict[str, Any]:
    return {"city": city, "forecast": "rain"}


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/cache/stats")
def stats() -> dict[str, Any]:
    return cache.stats()


app = FastAPI(title="fastapi-caching-route: observability")
app.include_router(router)
