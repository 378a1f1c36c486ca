"""fastapi-cache2: ``fastapi_cache`` with its InMemoryBackend (peers venv).

Its ``@cache`` wraps the endpoint, so it sits *below* the route decorator and
every hit still pays FastAPI's parameter and dependency solving, the JSON
decode of the stored value and FastAPI's re-encoding of it.
"""

from __future__ import annotations

from typing import Any

import _endpoints
from fastapi import Depends, FastAPI
from fastapi_cache import FastAPICache
from fastapi_cache.backends.inmemory import InMemoryBackend
from fastapi_cache.decorator import cache

NAME = "fastapi-cache2"
IS_CACHE = True
NOTES = {
    "auth": "route dependency: runs before the endpoint wrapper that does the lookup",
    "edge": "no edge lane",
    "gzip": "GZipMiddleware compresses every hit",
    "gzip-today": "ours only: the GZip row above is this system's",
    "304": "weak ETag W/hash(value), exact If-None-Match match only",
}
SHARED_NOTES = {"redis": "MULTI/TTL/GET/EXEC pipelined: one round trip"}
# Without an expiry its InMemoryBackend stores entries that expire at once.
EXPIRE = 3600


def hit_header(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"x-fastapi-cache") == b"HIT"


def build_app(variant: str) -> Any:
    if variant in ("bounded", "edge", "gzip-today"):  # InMemoryBackend has no size bound
        return None
    InMemoryBackend._store = {}  # a class attribute: start every app empty
    return _app(variant, InMemoryBackend())


def build_shared_app(kind: str, url: str) -> tuple[Any, Any] | None:
    """Scenario 5: its RedisBackend on a redis-py asyncio client; (app, async close)."""
    if kind != "redis":
        return None
    from fastapi_cache.backends.redis import RedisBackend
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    return _app("plain", RedisBackend(client)), client.aclose


def _app(variant: str, backend: Any) -> Any:
    # Normally called in the lifespan; the in-process harness sends no lifespan
    # events, so initialise here (init is a class-level switch either way).
    FastAPICache.reset()
    FastAPICache.init(backend, prefix="bench", expire=EXPIRE)
    app = FastAPI()

    for endpoint in _endpoints.for_variant(variant):
        auth = [Depends(_endpoints.require_key)] if endpoint.needs_auth else []
        app.get(endpoint.path, dependencies=auth)(cache(expire=EXPIRE)(endpoint.function))

    return _endpoints.add_middleware(app, variant)
