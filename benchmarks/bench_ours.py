"""ours: fastapi-caching-route from this repository, native in-process store (project venv)."""

from __future__ import annotations

from typing import Any

import _caching_route_app

from fastapi_caching_route import FastAPICache, MemoryBackend

NAME = "ours"
IS_CACHE = True
NOTES = {"auth": "early dependency (@cache(dependencies=...)), runs before the lookup"}
BOUNDED_MAX_BYTES = 64 * 1024 * 1024

hit_header = _caching_route_app.hit_header


def _cache(variant: str) -> FastAPICache:
    if variant == "bounded":
        return FastAPICache(MemoryBackend(max_bytes=BOUNDED_MAX_BYTES))
    return FastAPICache()


def build_app(variant: str) -> Any:
    return _caching_route_app.build_app(variant, _cache)
