"""Adapter for any aiocache cache (the storage of release 0.6.0)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._entry import StoredResponse
from .base import CacheBackend

if TYPE_CHECKING:
    from aiocache.base import BaseCache


class AiocacheBackend(CacheBackend):
    """Stores responses in an aiocache cache, in 0.6.0's value format.

    Values are the same dictionaries 0.6.0 stored, so both releases can share
    one cache; a value that is not such a dictionary reads as a miss.
    """

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache
        self.namespace = getattr(cache, "namespace", None) or None

    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        value = await self.cache.get(key, namespace=namespace)
        if value is None:
            return None
        try:
            return StoredResponse.from_cached_response(value)
        except (KeyError, TypeError, AttributeError, ValueError):
            return None

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        kwargs: dict[str, Any] = {}
        if namespace is not None:
            kwargs["namespace"] = namespace
        if ttl is not None:
            kwargs["ttl"] = ttl
        return bool(await self.cache.set(key, value.to_cached_response(), **kwargs))

    async def delete(self, key: str, namespace: str | None = None) -> int:
        return int(await self.cache.delete(key, namespace=namespace))

    async def clear(self, namespace: str | None = None) -> int:
        # aiocache reports success, not a count.
        return int(bool(await self.cache.clear(namespace=namespace)))


def is_aiocache_cache(obj: object) -> bool:
    """Whether ``obj`` is an aiocache cache instance (without importing aiocache)."""
    return any(
        cls.__module__.startswith("aiocache") and cls.__name__ == "BaseCache"
        for cls in type(obj).__mro__
    )
