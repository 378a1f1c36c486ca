"""Adapter for any aiocache cache (the storage of release 0.6.0)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import _core
from .._entry import StoredResponse
from .base import (
    DEFAULT_MAX_VARIANTS,
    CacheBackend,
    RequestHeaders,
    normalized_tags,
    stale_copy,
    validate_max_variants,
)

if TYPE_CHECKING:
    from aiocache.base import BaseCache

# A tag's index lives at this key plus the tag (a long one: its SHA-256).
_TAG_KEY_PREFIX = "fcr:tag:"
_MAX_TAG_IN_KEY = 200


class AiocacheBackend(CacheBackend):
    """Stores responses in an aiocache cache, in 0.6.0's value format.

    Values are the same dictionaries 0.6.0 stored, so both releases can share
    one cache; a value that is not such a dictionary reads as a miss. The
    responses of a key that carry ``Vary`` are kept together in one value
    (``{"vary": [...], "variants": {secondary: response, ...}}``), at most
    ``max_variants`` of them.

    Tags: each tag's index is a value in the same cache, at
    ``"fcr:tag:" + tag``, mapping the keys carrying it to their expiry. It is
    read, changed and written back, so two stores racing on one tag may lose
    one key from its index (that entry then escapes the tag's invalidation
    until it expires), and a soft invalidation may overwrite a response
    stored meanwhile with the stale copy of the one it read (a later
    revalidation or miss). For strict tag invalidation use RedisBackend.
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
        tags = normalized_tags(value.tags) if value.tags else ()
        if tags != value.tags:
            value = _with_tags(value, tags)
        stored = await self._store(key, value, namespace, ttl)
        if stored and tags:
            expiry = None if ttl is None else time.time() + ttl
            for tag in tags:
                await self._index(tag, namespace, {key: expiry})
        return stored

    async def _store(
        self, key: str, value: StoredResponse, namespace: str | None, ttl: float | None
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

    async def invalidate_tags(
        self, tags: Sequence[str], namespace: str | None = None, *, soft: bool = False
    ) -> int:
        """Reads each tag's index; removes its keys from it, then their entries
        (every variant counts); ``soft`` rewrites them stale instead (see the
        class notes for the races of read-modify-write)."""
        wanted = frozenset(normalized_tags(tags))
        now = time.time()
        keys: dict[str, float | None] = {}
        for tag in wanted:
            for key, expiry in (await self._members(tag, namespace)).items():
                keys[key] = _later(keys[key], expiry) if key in keys else expiry
            if not soft:
                await self.cache.delete(_tag_key(tag), namespace=namespace)
        count = 0
        for key, expiry in keys.items():
            value = await self.cache.get(key, namespace=namespace)
            responses = _responses(value)
            if soft:
                count += await self._soften(key, namespace, value, wanted, now, expiry)
            elif responses:
                count += len(responses) if await self.delete(key, namespace) else 0
        return count

    async def _soften(
        self,
        key: str,
        namespace: str | None,
        value: Any,
        tags: frozenset[str],
        now: float,
        expiry: float | None,
    ) -> int:
        try:
            responses = {
                secondary: StoredResponse.from_cached_response(response)
                for secondary, response in _responses(value).items()
            }
        except (KeyError, TypeError, AttributeError, ValueError):
            return 0
        if all(tags.isdisjoint(entry.tags) for entry in responses.values()):
            return 0  # stored again since, without the tags
        changed = False
        longest = 0.0  # what the responses' stale windows (or keep_stale) need
        for secondary, entry in responses.items():
            stale = stale_copy(entry, now)
            if stale is not None:
                changed = True
                responses[secondary] = stale
            kept = responses[secondary]
            longest = max(longest, _core.store_ttl(kept.timing, now, self.keep_stale))
        # Never longer than the entry was stored for.
        ttl = longest if expiry is None else min(longest, expiry - now)
        if changed and ttl > 0:
            if isinstance(value, dict) and "variants" in value:
                variants = {k: v.to_cached_response() for k, v in responses.items()}
                document: Any = {"vary": value["vary"], "variants": variants}
            else:
                document = next(iter(responses.values())).to_cached_response()
            kwargs: dict[str, Any] = {"ttl": ttl}
            if namespace is not None:
                kwargs["namespace"] = namespace
            await self.cache.set(key, document, **kwargs)
        return len(responses)

    async def _members(self, tag: str, namespace: str | None) -> dict[str, float | None]:
        """The unexpired keys of a tag's index."""
        index = await self.cache.get(_tag_key(tag), namespace=namespace)
        keys = index.get("keys") if isinstance(index, dict) else None
        if not isinstance(keys, dict):
            return {}
        now = time.time()
        return {
            key: expiry
            for key, expiry in keys.items()
            if isinstance(key, str)
            and (expiry is None or (isinstance(expiry, (int, float)) and expiry > now))
        }

    async def _index(self, tag: str, namespace: str | None, added: dict[str, float | None]) -> None:
        # Read, change, write back (see the class notes); the index lives as
        # long as its longest-lived key.
        keys = await self._members(tag, namespace)
        for key, expiry in added.items():
            keys[key] = _later(keys[key], expiry) if key in keys else expiry
        expiries = list(keys.values())
        kwargs: dict[str, Any] = {}
        if None not in expiries:
            kwargs["ttl"] = max(0.001, max(e for e in expiries if e is not None) - time.time())
        if namespace is not None:
            kwargs["namespace"] = namespace
        await self.cache.set(_tag_key(tag), {"keys": keys}, **kwargs)

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


def _tag_key(tag: str) -> str:
    if len(tag) > _MAX_TAG_IN_KEY:
        return _TAG_KEY_PREFIX + "#" + hashlib.sha256(tag.encode("utf-8")).hexdigest()
    return _TAG_KEY_PREFIX + tag


def _later(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(a, b)


def _responses(value: Any) -> dict[str, Any]:
    """The responses a stored value holds, by secondary key ('' for a plain one)."""
    if isinstance(value, dict) and "variants" in value:
        variants = value["variants"]
        return dict(variants) if isinstance(variants, dict) else {}
    if isinstance(value, dict) and "content" in value:
        return {"": value}
    return {}


def _with_tags(value: StoredResponse, tags: tuple[str, ...]) -> StoredResponse:
    return StoredResponse.from_timing(
        value.status_code,
        value.raw_headers,
        value.body,
        value.media_type,
        value.last_modified,
        value.timing,
        vary=value.vary,
        secondary=value.secondary,
        tags=tags,
    )
