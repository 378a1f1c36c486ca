"""The benchmark app for fastapi-caching-route, shared by ours and the 0.6.0 seed.

Both releases have the same API (CachingRoute, FastAPICache, @cache() above
the route decorator); only the cache object differs, so each adapter passes
its own factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import _endpoints
from fastapi import APIRouter, Depends, FastAPI

from fastapi_caching_route import CachingRoute


def hit_header(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"x-cache") == b"HIT"


def stale_header(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"x-cache") == b"STALE"


def build_app(variant: str, make_cache: Callable[[str], Any], **options: Any) -> Any:
    """``options`` go to every route's ``@cache(...)`` (the stale variant's windows,
    ours' ``edge`` and ``compress``)."""
    cache = make_cache(variant)
    router = APIRouter(route_class=CachingRoute)
    for endpoint in _endpoints.for_variant(variant):
        auth = [Depends(_endpoints.require_key)] if endpoint.needs_auth else []
        # The key check is an early dependency, so a hit never skips it.
        route = router.get(endpoint.path, dependencies=auth)(endpoint.function)
        cache(dependencies=auth, **options)(route)
    app = FastAPI()
    app.include_router(router)
    if variant == "edge":  # what the edge lane skips on a hit (ours only)
        app.add_middleware(_endpoints.SeenByMiddleware)
    return _endpoints.add_middleware(app, variant)
