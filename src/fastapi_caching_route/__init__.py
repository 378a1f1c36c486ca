"""A FastAPI route class that answers marked endpoints from a cache."""

from importlib.metadata import PackageNotFoundError, version

from ._cache import FastAPICache
from ._entry import StoredResponse
from ._route import CachingRoute
from ._types import (
    DEFAULT_ACCEPTED_STATUS_CODES,
    CachedResponse,
    CacheParams,
    CacheParamsBase,
    KeyBuilder,
    RouteHandler,
)
from .backends import AiocacheBackend, CacheBackend, MemoryBackend

try:
    __version__ = version("fastapi-caching-route")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_ACCEPTED_STATUS_CODES",
    "AiocacheBackend",
    "CacheBackend",
    "CacheParams",
    "CacheParamsBase",
    "CachedResponse",
    "CachingRoute",
    "FastAPICache",
    "KeyBuilder",
    "MemoryBackend",
    "RouteHandler",
    "StoredResponse",
    "__version__",
]
