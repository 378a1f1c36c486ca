"""seed: fastapi-caching-route 0.6.0 from PyPI with aiocache's SimpleMemoryCache (seed venv)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import _caching_route_app
from aiocache import RedisCache, SimpleMemoryCache
from aiocache.serializers import PickleSerializer

from fastapi_caching_route import FastAPICache

NAME = "seed"
IS_CACHE = True
NOTES = {
    "auth": "early dependency (@cache(dependencies=...)), runs before the lookup",
    "edge": "no edge lane",
    "gzip": "GZipMiddleware compresses every hit",
    "gzip-today": "ours only: the GZip row above is this system's",
}
SHARED_NOTES = {"redis": "aiocache RedisCache, PickleSerializer"}

hit_header = _caching_route_app.hit_header


def build_app(variant: str) -> Any:
    if variant in ("bounded", "edge", "gzip-today"):  # 0.6.0 has no size bound, no edge lane
        return None
    return _caching_route_app.build_app(variant, lambda _: FastAPICache(SimpleMemoryCache()))


def build_shared_app(kind: str, url: str) -> tuple[Any, Any] | None:
    """Scenario 5: aiocache's RedisCache; the stored value is a dict holding bytes,
    which its default JsonSerializer cannot encode, so 0.6.0 users need pickle."""
    if kind != "redis":
        return None
    return _redis_app("plain", url)


def build_stampede_app(url: str, lock: bool) -> tuple[Any, Any] | None:
    """Scenario 4b: one of two workers sharing Redis; 0.6.0 has no lock."""
    return None if lock else _redis_app("stampede", url)


def _redis_app(variant: str, url: str) -> tuple[Any, Any]:
    parts = urlsplit(url)
    cache = RedisCache(serializer=PickleSerializer(), endpoint=parts.hostname, port=parts.port)
    return _caching_route_app.build_app(variant, lambda _: FastAPICache(cache)), cache.close
