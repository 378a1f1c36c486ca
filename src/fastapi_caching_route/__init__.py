"""A FastAPI route class that answers marked endpoints from a cache."""

from importlib import metadata as _metadata

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
    TagsBuilder,
)
from .backends import (
    AiocacheBackend,
    CacheBackend,
    CircuitBreaker,
    LockHandle,
    MemoryBackend,
    RedisBackend,
    TieredBackend,
)

try:
    __version__ = _metadata.version("fastapi-caching-route")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_ACCEPTED_STATUS_CODES",
    "AiocacheBackend",
    "CacheBackend",
    "CacheParams",
    "CacheParamsBase",
    "CachedResponse",
    "CachingRoute",
    "CircuitBreaker",
    "FastAPICache",
    "KeyBuilder",
    "LockHandle",
    "MemoryBackend",
    "RedisBackend",
    "RouteHandler",
    "StoredResponse",
    "TagsBuilder",
    "TieredBackend",
    "__version__",
]
