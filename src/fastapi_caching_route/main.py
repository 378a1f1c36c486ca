"""The import path release 0.6.0 documented; everything here lives elsewhere."""

from ._cache import FastAPICache
from ._route import CachingRoute
from ._types import (
    DEFAULT_ACCEPTED_STATUS_CODES,
    CachedResponse,
    CacheParams,
    CacheParamsBase,
    KeyBuilder,
    RouteHandler,
)

__all__ = [
    "DEFAULT_ACCEPTED_STATUS_CODES",
    "CacheParams",
    "CacheParamsBase",
    "CachedResponse",
    "CachingRoute",
    "FastAPICache",
    "KeyBuilder",
    "RouteHandler",
]
