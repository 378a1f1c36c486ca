"""cashews: ``mem://`` backend with its FastAPI helpers (peers venv).

Its ``@cache`` wraps the endpoint (below the route decorator), so hits pay
FastAPI's parameter and dependency solving and the encoding of the stored
object. It has no hit header: hits are checked by the endpoint call counter.
It coalesces concurrent misses by default (``protected=True``).
"""

from __future__ import annotations

from typing import Any

import _endpoints
from cashews import Cache
from cashews.contrib.fastapi import CacheEtagMiddleware
from fastapi import Depends, FastAPI

NAME = "cashews"
IS_CACHE = True
NOTES = {
    "auth": "route dependency: runs before the endpoint wrapper that does the lookup",
    "edge": "no edge lane",
    "gzip": "GZipMiddleware compresses every hit",
    "gzip-today": "ours only: the GZip row above is this system's",
    "304": "needs CacheEtagMiddleware (a BaseHTTPMiddleware), added for this variant only",
}
TTL = "1h"
# The default LRU size is 1000 entries; the memory scenario stores far more.
SETTINGS = "mem://?size=2000000"


def hit_header(headers: dict[bytes, bytes]) -> bool | None:
    return None  # no hit header: rely on the endpoint call counter


def build_app(variant: str) -> Any:
    if variant in ("bounded", "edge", "gzip-today"):  # mem:// bounds entries, not bytes
        return None
    cache = Cache()  # one instance per app, so apps never share entries
    cache.setup(SETTINGS)
    app = FastAPI()
    if variant == "304":
        app.add_middleware(CacheEtagMiddleware, cache_instance=cache)

    for endpoint in _endpoints.for_variant(variant):
        auth = [Depends(_endpoints.require_key)] if endpoint.needs_auth else []
        app.get(endpoint.path, dependencies=auth)(cache(ttl=TTL)(endpoint.function))

    return _endpoints.add_middleware(app, variant)
