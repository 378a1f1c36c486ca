"""The contract every storage backend fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from .._entry import StoredResponse


class CacheBackend(ABC):
    """Where responses are stored.

    ``namespace`` is the root namespace; a ``None`` namespace argument means the
    root. Backends whose lookups never wait (the in-process store) set
    ``synchronous = True`` and implement :meth:`get_nowait`, which the route
    calls on its hot path without creating a coroutine.
    """

    namespace: str | None = None
    synchronous: bool = False
    # With a native hit path (hit_path()): whether a miss there still leaves
    # this backend's get() to ask (a tier behind the in-process one).
    lookup_after_native_miss: bool = False

    @abstractmethod
    async def get(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        """The stored response for ``key``, or ``None``."""

    @abstractmethod
    async def set(
        self,
        key: str,
        value: StoredResponse,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Store ``value``; returns whether it was stored."""

    @abstractmethod
    async def delete(self, key: str, namespace: str | None = None) -> int:
        """Remove ``key``; returns the number of entries removed."""

    @abstractmethod
    async def clear(self, namespace: str | None = None) -> int:
        """Remove every entry of a namespace; returns how many were removed."""

    def get_nowait(self, key: str, namespace: str | None = None) -> StoredResponse | None:
        """Synchronous lookup, for backends with ``synchronous = True``."""
        raise NotImplementedError(f"{type(self).__name__} has no synchronous lookup")

    def stats(self) -> dict[str, Any]:
        """Backend counters; empty when the backend keeps none."""
        return {}
