"""The default backend: the C++ store, in this process."""

from __future__ import annotations

from typing import Any

from .. import _core
from .._entry import StoredResponse
from .base import CacheBackend

_DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class MemoryBackend(CacheBackend):
    """Bounded in-process store (C++), the default when no cache is given.

    ``max_bytes`` bounds the sum of entry sizes (bodies, headers, keys and a
    fixed per-entry overhead); ``max_entries`` bounds their count (0: no
    count limit). Least recently used entries are evicted first.

    >>> cache = FastAPICache(MemoryBackend(max_bytes=64 * 1024 * 1024))
    """

    synchronous = True

    def __init__(
        self,
        *,
        max_bytes: int = _DEFAULT_MAX_BYTES,
        max_entries: int = 0,
        namespace: str | None = None,
        shards: int = 16,
    ) -> None:
        _require_int("max_bytes", max_bytes, minimum=1)
        _require_int("max_entries", max_entries, minimum=0)
        _require_int("shards", shards, minimum=1)
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError("namespace must be a str or None")
        self.namespace = namespace
        self._store = _core.Store(max_bytes, max_entries, shards)
        self._namespace_ids: dict[str | None, int] = {}

    def _ns(self, namespace: str | None) -> int:
        ns_id = self._namespace_ids.get(namespace)
        if ns_id is None:
            name = namespace if namespace is not None else (self.namespace or "")
            ns_id = self._namespace_ids[namespace] = self._store.namespace_id(name)
        return ns_id

    def get_nowait(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        value: StoredResponse | None = self._store.get(self._ns(namespace), key)
        return value

    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        return self.get_nowait(key, namespace)

    def set_nowait(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Synchronous :meth:`set`."""
        stored: bool = self._store.put(self._ns(namespace), key, value, value.charge, ttl or 0.0)
        return stored

    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        return self.set_nowait(key, value, namespace=namespace, ttl=ttl)

    async def delete(self, key: str, namespace: str | None = None) -> int:
        removed: int = self._store.erase(self._ns(namespace), key)
        return removed

    async def clear(self, namespace: str | None = None) -> int:
        removed: int = self._store.clear(self._ns(namespace))
        return removed

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._store.stats()
        return stats


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
