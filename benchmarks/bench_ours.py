"""ours: fastapi-caching-route from this repository, native in-process store (project venv)."""

from __future__ import annotations

from typing import Any

import _caching_route_app
import _payload

from fastapi_caching_route import FastAPICache, MemoryBackend, RedisBackend, TieredBackend

NAME = "ours"
IS_CACHE = True
NOTES = {
    "auth": "early dependency (@cache(dependencies=...)), runs before the lookup",
    "edge": "@cache(edge=True), app = cache.edge(app), behind one middleware its hits skip",
    "gzip": "@cache(compress=True): gzip stored once, GZipMiddleware lets it through",
    "gzip-today": "@cache() without compress: GZipMiddleware compresses every hit",
}
BOUNDED_MAX_BYTES = 64 * 1024 * 1024
# Variants timed in alternate rounds with a reference in this worker (the
# target's ratio, side by side): variant -> (adapter module, "" for this one,
# and its variant).
PAIRED = {
    "stale": ("", "plain"),
    "gzip": ("", "100kib"),
    "edge": ("bench_asgi_floor", "edge"),
}
# Scenario 5: the kinds of shared store whose hits are timed against a bare
# redis-py GET of the value they stored (alternate rounds, this worker).
BARE_GET_KINDS = ("redis", "tiered-l2")

hit_header = _caching_route_app.hit_header
stale_header = _caching_route_app.stale_header


def _cache(variant: str) -> FastAPICache:
    if variant == "bounded":
        return FastAPICache(MemoryBackend(max_bytes=BOUNDED_MAX_BYTES))
    return FastAPICache()


def build_app(variant: str) -> Any:
    if variant == "edge":
        cache = FastAPICache()
        return cache.edge(_caching_route_app.build_app(variant, lambda _: cache, edge=True))
    if variant == "gzip":
        return _caching_route_app.build_app(variant, _cache, compress=True)
    return _caching_route_app.build_app(variant, _cache)


def build_stale_app() -> Any:
    """Scenario 1, stale variant: a route whose entry expires at once and stays
    servable stale for an hour (its one refresh never completes: _endpoints)."""
    return _caching_route_app.build_app(
        "stale",
        lambda _: FastAPICache(),
        ttl=_payload.STALE_TTL,
        stale_while_revalidate=_payload.STALE_WHILE_REVALIDATE,
    )


_stampede_caches: list[FastAPICache] = []


def build_stampede_app(url: str, lock: bool) -> tuple[Any, Any]:
    """Scenario 4b: one of two workers sharing Redis; (app, async close)."""
    backend = RedisBackend.from_url(url, lock=lock)
    cache = FastAPICache(backend)
    _stampede_caches[:] = [cache]
    return _caching_route_app.build_app("stampede", lambda _: cache), backend.close


def stampede_stats() -> dict[str, int]:
    """Scenario 4b: the cache's and backend's non-zero counters (why the endpoint ran)."""
    stats = _stampede_caches[0].stats()
    merged = {**stats, **stats.get("route", {})}
    return {name: n for name, n in merged.items() if isinstance(n, int) and n}


async def _nothing_to_close() -> None:
    return None


def build_shared_app(kind: str, url: str) -> tuple[Any, Any] | None:
    """Scenario 5: the plain endpoint on a shared store; (app, async close)."""
    if kind == "memory":  # the reference for the tiered store: the plain memory-store hit
        return _caching_route_app.build_app("plain", lambda _: FastAPICache()), _nothing_to_close
    if kind == "redis":
        backend: Any = RedisBackend.from_url(url)
    elif kind == "tiered":
        backend = TieredBackend(RedisBackend.from_url(url))
    elif kind == "tiered-l2":  # an L1 too small to hold anything: every hit comes from Redis
        backend = TieredBackend(RedisBackend.from_url(url), l1=MemoryBackend(max_bytes=1, shards=1))
    else:
        return None
    return _caching_route_app.build_app("plain", lambda _: FastAPICache(backend)), backend.close
