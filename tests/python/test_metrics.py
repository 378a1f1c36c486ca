"""Prometheus metrics read the cache's counters at scrape time."""

from __future__ import annotations

import pytest
from conftest import caching_router, make_app, open_client
from prometheus_client import CollectorRegistry, generate_latest

from fastapi_caching_route import FastAPICache
from fastapi_caching_route.metrics import register_metrics

pytestmark = pytest.mark.anyio


async def test_counters_and_gauges_follow_the_traffic() -> None:
    cache = FastAPICache()
    registry = CollectorRegistry()
    register_metrics(cache, registry, name="api")
    router = caching_router()

    @cache()
    @router.get("/m")
    def endpoint() -> str:
        return "m"

    async with open_client(make_app(router)) as client:
        for _ in range(3):
            await client.get("/m")
        await client.get("/m", headers={"authorization": "Bearer t"})
    text = generate_latest(registry).decode()
    assert 'fastapi_cache_hits_total{cache="api"} 2.0' in text
    assert 'fastapi_cache_misses_total{cache="api"} 1.0' in text
    assert 'fastapi_cache_entries{cache="api"} 1.0' in text
    assert 'fastapi_cache_route_events_total{cache="api",event="bypass_authorization"} 1.0' in text


def test_collector_can_be_unregistered() -> None:
    registry = CollectorRegistry()
    collector = register_metrics(FastAPICache(), registry)
    registry.unregister(collector)
    assert b"fastapi_cache" not in generate_latest(registry)
