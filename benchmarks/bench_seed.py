"""seed: fastapi-caching-route 0.6.0 from PyPI with aiocache's SimpleMemoryCache (seed venv)."""

from __future__ import annotations

from typing import Any

import _caching_route_app
from aiocache import SimpleMemoryCache

from fastapi_caching_route import FastAPICache

NAME = "seed"
IS_CACHE = True
NOTES = {"auth": "early dependency (@cache(dependencies=...)), runs before the lookup"}

hit_header = _caching_route_app.hit_header


def build_app(variant: str) -> Any:
    if variant == "bounded":  # 0.6.0 has no size bound
        return None
    return _caching_route_app.build_app(variant, lambda _: FastAPICache(SimpleMemoryCache()))
