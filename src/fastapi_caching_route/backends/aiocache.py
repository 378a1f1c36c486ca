"""Adapter for any aiocache cache (the storage of release 0.6.0)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _core
from .._entry import StoredResponse
from .base import DEFAULT_MAX_VARIANTS, CacheBackend, RequestHeaders, validate_max_variants

if TYPE_CHECKING:
    from aiocache.base import BaseCache


class AiocacheBackend(CacheBackend):
    """Stores responses in an aiocache cache, in 0.6.0's value format.

    Values are the same dictionaries 0.6.0 stored, so both releases can share
    one cache; a value that is not such a dictionary reads as a miss. The
    responses of a key that carry ``Vary`` are kept together in one value
    (``{"vary": [...], "variants": {secondary: response, ...}}``), at most
    ``max_variants`` of them.
    """

    def __init__(self, cache: BaseCache, *, max_variants: int = DEFAULT_MAX_VARIANTS) -> None:
        self.cache = cache
        self.namespace = getattr(cache, "namespace", None) or None
        self.max_variants = validate_max_variants(max_variants)
        self.variants_dropped = 0

    async def get(
        self, key: str, namespace: str | None = None, *, headers: RequestHeaders | None = None
    ) -> StoredResponse | None:
        value = await self.cache.get(key, namespace=namespace)
        if value is None:
            return None
        try:
            if isinstance(value, dict) and "variants" in value:
                names = tuple(value["vary"])
                secondary = _core.secondary_key(names, headers or ())
                value = value["variants"].get(secondary)
                if value is None:
                    return None
            # Variants share one value, whose ttl is the newest one's: the route
            # checks each entry's own lifetime.
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
        if not value.vary:
            return bool(await self.cache.set(key, value.to_cached_response(), **kwargs))
        # Read, add, write back: a racing set may lose a variant (a later miss),
        # never mix two up. The value lives as long as its newest variant.
        current = await self.cache.get(key, namespace=namespace)
        variants: dict[str, Any] = {}
        if (
            isinstance(current, dict)
            and list(current.get("vary", ())) == list(value.vary)
            and isinstance(current.get("variants"), dict)
        ):
            variants = {k: v for k, v in current["variants"].items() if k != value.secondary}
        variants[value.secondary] = value.to_cached_response()
        while len(variants) > self.max_variants:
            del variants[next(iter(variants))]  # the oldest
            self.variants_dropped += 1
        document = {"vary": list(value.vary), "variants": variants}
        return bool(await self.cache.set(key, document, **kwargs))

    async def delete(self, key: str, namespace: str | None = None) -> int:
        return int(await self.cache.delete(key, namespace=namespace))

    async def clear(self, namespace: str | None = None) -> int:
        # aiocache reports success, not a count.
        return int(bool(await self.cache.clear(namespace=namespace)))

    def stats(self) -> dict[str, Any]:
        return {"variants_dropped": self.variants_dropped}


def is_aiocache_cache(obj: object) -> bool:
    """Whether ``obj`` is an aiocache cache instance (without importing aiocache)."""
    return any(
        cls.__module__.startswith("aiocache") and cls.__name__ == "BaseCache"
        for cls in type(obj).__mro__
    )
